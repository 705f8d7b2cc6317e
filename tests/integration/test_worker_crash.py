"""Durability: SIGKILL a worker in the middle of a release, start another, finish once.

The agent's test holds (``ferryman.providers.local.holds``) stop a provider call
at a chosen point inside the agent: the worker is killed while its call is
there, a new worker retries the call with the same key while the first one
still holds it, and only then is the first let go. The agent's event log must
show the step's side effect exactly once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from ferryman.devstack.processes import stop_group
from ferryman.providers.local import LocalProvider
from ferryman.temporal.client.releases import start_release
from ferryman.temporal.workflows.release import ReleaseWorkflow
from ferryman.testing import AgentProcess, TemporalDevServer
from ferryman.testing.holds import AgentHolds
from ferryman.testing.processes import start_worker
from ferryman.testing.waiting import eventually

from .release_helpers import hello_plan, served, with_service
from .worker_helpers import private_workers

pytestmark = pytest.mark.integration
REGION = "local-1"


@pytest.fixture
def held_agent(tmp_path: Path) -> Iterator[AgentProcess]:
    """An agent with test holds enabled."""
    process = AgentProcess(state_dir=tmp_path / "held" / "agent", holds=True).start()
    yield process
    process.stop()


async def test_worker_killed_inside_prepare_starts_each_instance_once(
    dev_server: TemporalDevServer,
    dev_client: Client,
    held_agent: AgentProcess,
    hello_spec: Path,
    ferryman_home: Path,
    tmp_path: Path,
) -> None:
    plan = hello_plan(hello_spec, "v1")
    replicas = plan.deploy.services[0].replicas
    assert replicas == 2
    release = f"release/hello/dev/{uuid.uuid4()}"
    holds = AgentHolds(held_agent.url)
    provider = LocalProvider(held_agent.url, environment="dev")
    await holds.arm("prepare.started", f"{release}/{REGION}/web/switch/")
    async with private_workers(
        dev_client, dev_server.address, held_agent.url, tmp_path, [REGION]
    ) as workers:
        handle = await dev_client.start_workflow(
            ReleaseWorkflow.run, plan, id=release, task_queue=workers.queue
        )
        await holds.reached("prepare.started", within=180)
        assert len(await provider.events("instance.started")) == 1, "held after the first start"
        await workers.kill(REGION)
        await workers.start(REGION)
        # The new worker's retry reaches the agent while the first call still holds it.
        await holds.arrivals("prepare.started", 2, within=180)
        await holds.release("prepare.started")
        result = await asyncio.wait_for(handle.result(), timeout=180)
    assert result.status == "succeeded"
    starts = await provider.events("instance.started")
    assert len(starts) == replicas, [e.detail for e in starts]
    assert len({e.instance for e in starts}) == replicas
    assert len(await provider.events("hold.arrived")) == 2
    assert {a["version"] for a in served(result.router_urls[REGION])} == {"v1"}


async def test_worker_killed_after_the_table_is_written_swaps_routes_once(
    dev_server: TemporalDevServer,
    dev_client: Client,
    held_agent: AgentProcess,
    hello_spec: Path,
    ferryman_home: Path,
    tmp_path: Path,
) -> None:
    plan = hello_plan(hello_spec, "v1")
    release = f"release/hello/dev/{uuid.uuid4()}"
    holds = AgentHolds(held_agent.url)
    provider = LocalProvider(held_agent.url, environment="dev")
    await holds.arm("routes.written", f"{release}/{REGION}/web/switch/")
    async with private_workers(
        dev_client, dev_server.address, held_agent.url, tmp_path, [REGION]
    ) as workers:
        handle = await dev_client.start_workflow(
            ReleaseWorkflow.run, plan, id=release, task_queue=workers.queue
        )
        await holds.reached("routes.written", within=180)
        assert len(await provider.events("routes.set")) == 1, "held after the table was written"
        await workers.kill(REGION)
        await workers.start(REGION)
        await holds.arrivals("routes.written", 2, within=180)
        await holds.release("routes.written")
        result = await asyncio.wait_for(handle.result(), timeout=180)
    assert result.status == "succeeded"
    swaps = await provider.events("routes.set")
    assert [e.detail for e in swaps] == [f"dev/{REGION} web 1"], "one swap, generation 1"
    state = await provider.current_state(REGION, "web")
    assert state.generation == 1
    assert {a["version"] for a in served(result.router_urls[REGION])} == {"v1"}


async def test_worker_killed_mid_deploy_completes_without_repeating_starts(
    dev_server: TemporalDevServer,
    dev_client: Client,
    agent: AgentProcess,
    hello_spec: Path,
    ferryman_home: Path,
    tmp_path: Path,
) -> None:
    # Instances take ~2 s to come up, so the kill lands while the release waits for them;
    # this worker serves the workflows too, so the release's own tasks move to the next.
    plan = with_service(
        hello_plan(hello_spec, "v1"),
        command="sleep 2 && exec python3 dist/server.py",
    )
    provider = LocalProvider(agent.url, environment="dev")
    serve = ("--central", "--region", REGION, "--task-queue", f"ferryman-{uuid.uuid4()}")
    worker = start_worker(dev_server.address, agent.url, tmp_path / "worker1.log", *serve)
    try:
        handle = await start_release(dev_client, plan, task_queue=serve[-1])
        await eventually(
            lambda: provider.events("instance.started"), what="the first instance to start"
        )
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
        worker = start_worker(dev_server.address, agent.url, tmp_path / "worker2.log", *serve)
        result = await asyncio.wait_for(handle.result(), timeout=120)
    finally:
        stop_group(worker.pid)
    assert result.status == "succeeded"
    starts = [e for e in await provider.events() if e.kind == "instance.started"]
    assert len(starts) == plan.deploy.services[0].replicas
    assert {a["version"] for a in served(result.router_urls[REGION])} == {"v1"}


async def test_holds_exist_only_in_an_agent_started_with_them(
    held_agent: AgentProcess, agent: AgentProcess
) -> None:
    async with httpx.AsyncClient() as client:
        plain = await client.post(f"{agent.url}/v1/test/holds", json={"point": "routes.written"})
        unknown = await client.post(f"{held_agent.url}/v1/test/holds", json={"point": "nope"})
        idle = await client.post(
            f"{held_agent.url}/v1/test/holds/release", json={"point": "routes.written"}
        )
    assert plain.status_code == 404, "a production agent has no test holds"
    assert unknown.status_code == 400 and "unknown hold point 'nope'" in unknown.text
    assert idle.status_code == 400 and "no hold is armed at 'routes.written'" in idle.text
