"""Durability of a region deploy: SIGKILL the worker between the barrier and the switch."""

from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client

from ferryman.devstack.processes import stop_group
from ferryman.providers.local import LocalProvider
from ferryman.temporal.models.region import Decision
from ferryman.temporal.workflows.region import RegionDeployWorkflow
from ferryman.testing import AgentProcess, TemporalDevServer
from ferryman.testing.processes import start_worker

from .bluegreen_helpers import ZONES, RegionDeployer, store_example_app, traffic, wait_for_phase

pytestmark = pytest.mark.integration


async def test_worker_killed_between_barrier_and_switch_switches_exactly_once(
    dev_server: TemporalDevServer,
    dev_client: Client,
    agent: AgentProcess,
    ferryman_home: Path,
    tmp_path: Path,
) -> None:
    queue = f"ferryman-{uuid.uuid4()}"
    deployer = RegionDeployer(dev_client, queue, store_example_app())
    provider = LocalProvider(agent.url, environment="test")
    serve = ("--central", "--region", deployer.region, "--task-queue", queue)
    worker = start_worker(dev_server.address, agent.url, tmp_path / "worker1.log", *serve)
    try:
        first = await deployer.deploy("v1")
        before = len(await provider.events())
        handle = await deployer.start("v2", auto_promote=False)
        await wait_for_phase(handle, "awaiting-promotion")
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
        worker = start_worker(dev_server.address, agent.url, tmp_path / "worker2.log", *serve)
        async with traffic(first.router_url) as seen:
            await handle.execute_update(RegionDeployWorkflow.promote, Decision(by="ops"))
            result = await handle.result()
    finally:
        stop_group(worker.pid)
    assert result.status == "finalized"
    events = (await provider.events())[before:]
    switches = [e for e in events if e.kind == "routes.set"]
    assert len(switches) == 1, f"the switch happened {len(switches)} times: {switches}"
    starts = [e for e in events if e.kind == "instance.started"]
    assert len(starts) == 2 * len(ZONES), "every v2 instance started exactly once"
    assert seen.errors == 0 and seen.failures == 0
    state = await provider.current_state("eu-1", "web")
    assert state.versions_by_zone == {zone: ["v2"] for zone in ZONES}
