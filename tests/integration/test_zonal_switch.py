"""Level 5 on zonal data planes: every zone's router switched together by a two-phase commit.

Real Temporal dev server, real agent, a real router process per zone behind a
real front, real instances, continuous sticky traffic. What was served is read
from the routers' own request logs.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowFailureError

from ferryman.devstack.processes import stop_group
from ferryman.providers.local import LocalProvider
from ferryman.temporal.names import TASK_QUEUE
from ferryman.temporal.worker.workers import local_providers
from ferryman.testing import AgentProcess, TemporalDevServer
from ferryman.testing.processes import start_worker
from ferryman.testing.workers import serving

from .bluegreen_helpers import ZONES, store_example_app, traffic
from .zonal_helpers import ZonalDeployer, clean_cut, fault, versions_after, wait_for_event

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


@pytest.fixture
async def deployer(
    dev_client: Client, agent: AgentProcess, ferryman_home: Path
) -> AsyncIterator[ZonalDeployer]:
    async with serving(dev_client, local_providers(agent.url), ["eu-1"]) as queue:
        yield ZonalDeployer(dev_client, queue, store_example_app())


async def test_a_zonal_switch_leaves_no_request_on_the_old_version_after_the_commit(
    deployer: ZonalDeployer, agent: AgentProcess
) -> None:
    provider = LocalProvider(agent.url, environment="test")
    first = await deployer.deploy("v1")
    state = await provider.current_state("eu-1", "web")
    assert state.data_plane == "zonal" and set(state.zone_generations) == set(ZONES)
    zonal = await provider.zonal_state("eu-1")
    assert zonal.front_url == first.router_url, "clients keep the region's URL"
    since = (await provider.events())[-1].seq
    async with traffic(first.router_url, rps=150) as seen:
        await wait_for_event(provider, "routes.set", 0)
        second = await deployer.deploy("v2", scale_down_delay_s=1)
        committed = await provider.events(kind="routes.set", since=since)
        # keep the load on after the switch, so every zone answers after the commit
        log = await provider.request_log("eu-1")
        while not all(versions_after(log, committed[-1].time).get(z) for z in ZONES):
            log = await provider.request_log("eu-1")
    assert second.status == "finalized"
    assert seen.errors == 0 and seen.failures == 0
    assert len(committed) == 1, f"one switch took effect: {committed}"
    after = versions_after(log, committed[-1].time)
    assert after == {zone: {"v2"} for zone in ZONES}, f"after the commit: {after}"
    before = versions_after([e for e in log if e.time < committed[-1].time - 2], 0)
    assert all(versions == {"v1"} for versions in before.values()), before
    generation = (await provider.current_state("eu-1", "web")).generation
    for zone, generations in clean_cut(log).items():
        assert generations == sorted(generations), f"zone {zone} went back: {generations}"
        assert generations[-1] == generation, f"zone {zone} ended on {generations[-1]}"
    assert {r.generation for r in (await provider.zonal_state("eu-1")).zones} == {generation}


async def test_a_zone_refusing_phase_1_aborts_everywhere_and_the_old_version_keeps_serving(
    deployer: ZonalDeployer, agent: AgentProcess
) -> None:
    provider = LocalProvider(agent.url, environment="test")
    first = await deployer.deploy("v1")
    generation = (await provider.current_state("eu-1", "web")).generation
    await fault(agent, "eu-1", "b", refuse="zone b's load balancer is broken")
    start = time.time()
    async with traffic(first.router_url, rps=150) as seen:
        with pytest.raises(WorkflowFailureError) as failure:
            await deployer.deploy("v2")
    message = str(failure.value.cause)
    assert "zone b refused generation" in message and "load balancer is broken" in message
    assert "aborted in every zone" in message
    assert seen.errors == 0 and seen.failures == 0
    log = [e for e in await provider.request_log("eu-1") if e.time > start]
    assert {e.version for e in log} == {"v1"}, "nobody was served v2"
    assert {e.generation for e in log} == {generation}, "no zone served another generation"
    zonal = await provider.zonal_state("eu-1")
    assert zonal.switch is not None and zonal.switch.phase == "aborted"
    assert all(r.generation == generation and r.staged is None for r in zonal.zones)
    state = await provider.current_state("eu-1", "web")
    assert state.versions_by_zone == {zone: ["v1"] for zone in ZONES}, "v2 was retired again"
    aborted = await provider.events(kind="routes.aborted")
    assert aborted and "zone b refused" in aborted[-1].detail


async def test_worker_killed_between_prepare_and_commit_switches_once(
    dev_server: TemporalDevServer,
    dev_client: Client,
    agent: AgentProcess,
    ferryman_home: Path,
    tmp_path: Path,
) -> None:
    deployer = ZonalDeployer(dev_client, TASK_QUEUE, store_example_app())
    provider = LocalProvider(agent.url, environment="test")
    serve = ("--central", "--region", deployer.region)
    worker = start_worker(dev_server.address, agent.url, tmp_path / "worker1.log", *serve)
    try:
        first = await deployer.deploy("v1")
        before = (await provider.events())[-1].seq
        # Zone c acknowledges phase 1 late: the worker dies while the stage is under way,
        # and the agent finishes phase 1 with no worker left to commit it.
        await fault(agent, "eu-1", "c", delay_stage=1.0)
        async with traffic(first.router_url, rps=100) as seen:
            handle = await deployer.start("v2")
            while (await provider.zonal_state("eu-1")).switch.phase != "preparing":  # type: ignore[union-attr]
                pass
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
            staged = await wait_for_event(provider, "routes.staged", before)
            switch = (await provider.zonal_state("eu-1")).switch
            assert switch is not None and switch.phase == "prepared", "killed between the phases"
            await fault(agent, "eu-1", "c")
            worker = start_worker(dev_server.address, agent.url, tmp_path / "worker2.log", *serve)
            result = await handle.result()
    finally:
        stop_group(worker.pid)
    assert result.status == "finalized"
    assert seen.errors == 0 and seen.failures == 0
    events = await provider.events(since=before)
    assert [e.seq for e in events if e.kind == "routes.staged"] == [staged], "staged once"
    switches = [e for e in events if e.kind == "routes.set"]
    assert len(switches) == 1, f"the switch took effect {len(switches)} times: {switches}"
    assert not [e for e in events if e.kind == "routes.aborted"]
    zonal = await provider.zonal_state("eu-1")
    assert zonal.switch is not None and zonal.switch.phase == "committed"
    assert {r.generation for r in zonal.zones} == {zonal.switch.generation}, zonal.zones
    state = await provider.current_state("eu-1", "web")
    assert state.versions_by_zone == {zone: ["v2"] for zone in ZONES}
    assert set(state.zone_generations.values()) == {zonal.switch.generation}
