"""Durability: SIGKILL the worker in the middle of a canary analysis; a new one finishes it.

The judges' state lives in the workflow (rebuilt from history), the analysis
activity only reads and judges, so the new worker goes on from the last look:
no instance is started twice and every analysis still passes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.service import RPCError

from ferryman.deploy.strategies import CanaryOptions
from ferryman.deploy.strategies.canary import AnalysisStep, SetWeight
from ferryman.devstack.processes import stop_group
from ferryman.providers.local import LocalProvider
from ferryman.temporal.workflows.region import RegionDeployWorkflow
from ferryman.testing import AgentProcess, TemporalDevServer
from ferryman.testing.processes import start_worker

from .canary_helpers import ZONES, RegionHandle, ShopDeployer, error_template, load
from .canary_helpers import store_checkout_app as store

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


async def looks(handle: RegionHandle) -> int:
    with contextlib.suppress(RPCError):
        return len((await handle.query(RegionDeployWorkflow.analysis)).records)
    return 0


async def test_worker_killed_mid_analysis_resumes_from_the_last_look(
    dev_server: TemporalDevServer,
    dev_client: Client,
    agent: AgentProcess,
    ferryman_home: Path,
    tmp_path: Path,
) -> None:
    queue = f"ferryman-{uuid.uuid4()}"
    serve = ("--central", "--region", "eu-1", "--task-queue", queue)
    worker = start_worker(dev_server.address, agent.url, tmp_path / "worker1.log", *serve)
    deployer = ShopDeployer(dev_client, queue, store(tmp_path))
    try:
        first = await deployer.stable("v1")
        template = error_template("local", interval_s=1.5)
        options = CanaryOptions(
            steps=(
                SetWeight(weight=10),
                AnalysisStep(templates=(template,)),
                SetWeight(weight=50),
                AnalysisStep(templates=(template,)),
            ),
            scale_down_delay_s=0,
        )
        async with load(first.router_url):
            handle = await deployer.start("v2", options)
            for _ in range(600):
                if await looks(handle) >= 3:
                    break
                await asyncio.sleep(0.1)
            before = await looks(handle)
            assert before >= 3, "the analysis never got going"
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
            worker = start_worker(dev_server.address, agent.url, tmp_path / "worker2.log", *serve)
            result = await asyncio.wait_for(handle.result(), timeout=180)
        records = (await handle.query(RegionDeployWorkflow.analysis)).records
    finally:
        stop_group(worker.pid)
    assert result.status == "switched"
    assert len(records) > before
    runs = [(r.step, r.judgement.verdict) for r in records if r.key == "run"]
    assert runs == [("analysis at 10%", "pass"), ("analysis at 50%", "pass")]
    started = await LocalProvider(agent.url, environment="test").events("instance.started")
    assert len(started) == 3 * len(ZONES), "v1, v2 and the baseline started once in each zone"
