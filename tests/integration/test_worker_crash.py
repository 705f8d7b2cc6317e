"""Durability: SIGKILL the worker in the middle of a release, start a new one, finish once."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest
from temporalio.client import Client

from ferryman.devstack.processes import stop_group
from ferryman.providers.local import LocalProvider
from ferryman.temporal.client.releases import start_release
from ferryman.temporal.names import TASK_QUEUE
from ferryman.testing import AgentProcess, TemporalDevServer
from ferryman.testing.processes import start_worker

from .release_helpers import hello_plan, served, with_service

pytestmark = pytest.mark.integration


async def wait_for(predicate: object, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not await predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def test_worker_killed_mid_deploy_completes_without_repeating_starts(
    dev_server: TemporalDevServer,
    dev_client: Client,
    agent: AgentProcess,
    hello_spec: Path,
    ferryman_home: Path,
    tmp_path: Path,
) -> None:
    # Instances take ~2 s to come up, so the kill lands while the release waits for them.
    plan = with_service(
        hello_plan(hello_spec, "v1"),
        command="sleep 2 && exec python3 dist/server.py",
    )
    provider = LocalProvider(agent.url, environment="dev")
    serve = ("--central", "--region", "local-1")
    worker = start_worker(dev_server.address, agent.url, tmp_path / "worker1.log", *serve)
    try:
        handle = await start_release(dev_client, plan, task_queue=TASK_QUEUE)

        async def instances_started() -> bool:
            return any(e.kind == "instance.started" for e in await provider.events())

        await wait_for(instances_started)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
        worker = start_worker(dev_server.address, agent.url, tmp_path / "worker2.log", *serve)
        result = await asyncio.wait_for(handle.result(), timeout=120)
    finally:
        stop_group(worker.pid)
    assert result.status == "succeeded"
    starts = [e for e in await provider.events() if e.kind == "instance.started"]
    assert len(starts) == plan.deploy.services[0].replicas
    assert {a["version"] for a in served(result.router_urls["local-1"])} == {"v1"}
