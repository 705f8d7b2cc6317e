"""Levels 3 and 5 on the real local platform: three zones switched together, with traffic.

Real Temporal dev server, real agent and instance processes, real router,
continuous client traffic; every assertion is about what was actually served.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client, WorkflowFailureError, WorkflowUpdateFailedError

from ferryman.devstack.processes import pid_alive
from ferryman.providers.local import LocalProvider
from ferryman.temporal.models.region import Decision
from ferryman.temporal.worker.workers import local_providers
from ferryman.temporal.workflows.region import RegionDeployWorkflow
from ferryman.testing import AgentProcess
from ferryman.testing.workers import serving

from .bluegreen_helpers import (
    BROKEN_IN_ZONE_B,
    ZONES,
    RegionDeployer,
    answered_by,
    store_example_app,
    traffic,
    wait_for_phase,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def deployer(
    dev_client: Client, agent: AgentProcess, ferryman_home: Path
) -> AsyncIterator[RegionDeployer]:
    async with serving(dev_client, local_providers(agent.url), ["eu-1"]) as queue:
        yield RegionDeployer(dev_client, queue, store_example_app())


async def answered(
    url: str, header: str = "X-Ferryman-Version", n: int = 10, headers: dict[str, str] | None = None
) -> set[str]:
    """The values of ``header`` over ``n`` requests to ``url``."""
    async with httpx.AsyncClient(timeout=5, headers=headers) as http:
        return {(await http.get(url)).headers[header] for _ in range(n)}


async def versions_by_zone(agent: AgentProcess) -> dict[str, list[str]]:
    state = await LocalProvider(agent.url, environment="test").current_state("eu-1", "web")
    return state.versions_by_zone


async def test_new_version_goes_live_in_every_zone_without_a_failed_request(
    deployer: RegionDeployer, agent: AgentProcess
) -> None:
    first = await deployer.deploy("v1")
    assert first.status == "finalized"
    async with traffic(first.router_url) as seen:
        second = await deployer.deploy("v2", scale_down_delay_s=1)
        await answered_by(seen, "v2")
    assert second.status == "finalized"
    assert await versions_by_zone(agent) == {zone: ["v2"] for zone in ZONES}
    assert seen.errors == 0 and seen.failures == 0
    assert set(seen.by_version) == {"v1", "v2"}
    zones = await answered(first.router_url, "X-Ferryman-Zone", 30)
    assert zones == set(ZONES), "traffic is balanced over every zone"


async def test_unhealthy_zone_rolls_back_everywhere_and_old_never_stops(
    deployer: RegionDeployer, agent: AgentProcess
) -> None:
    first = await deployer.deploy("v1")
    provider = LocalProvider(agent.url, environment="test")
    v1_pids = {i.pid for i in await provider.instances() if i.version == "v1"}
    async with traffic(first.router_url) as seen:
        # Long enough for zones a and c to be healthy on a loaded machine: b alone fails.
        handle = await deployer.start("v2", BROKEN_IN_ZONE_B, progress_deadline_s=15)
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    assert "eu-1: zone b: web v2 0/2 instances healthy" in str(failure.value.cause)
    assert seen.errors == 0 and set(seen.by_version) == {"v1"}
    assert await versions_by_zone(agent) == {zone: ["v1"] for zone in ZONES}
    instances = await provider.instances()
    assert {i.pid for i in instances if i.version == "v1" and i.state != "stopped"} == v1_pids
    v2 = [i for i in instances if i.version == "v2"]
    assert len(v2) == 2 * len(ZONES), "v2 was started in every zone, then retired"
    assert [i.state for i in v2] == ["stopped"] * len(v2)
    assert not any(i.pid and pid_alive(i.pid) for i in v2)


async def test_held_promotion_then_promote_switches(
    deployer: RegionDeployer, agent: AgentProcess, dev_client: Client
) -> None:
    first = await deployer.deploy("v1")
    handle = await deployer.start("v2", auto_promote=False)
    await wait_for_phase(handle, "awaiting-promotion")
    assert await versions_by_zone(agent) == {zone: ["v1", "v2"] for zone in ZONES}
    assert await answered(first.router_url) == {"v1"}
    answer = await handle.execute_update(RegionDeployWorkflow.promote, Decision(by="alice"))
    assert answer == "eu-1: promoted by alice"
    assert (await handle.result()).status == "finalized"
    assert await versions_by_zone(agent) == {zone: ["v2"] for zone in ZONES}


async def test_cancel_while_old_colour_is_warm_is_one_swap_back(
    deployer: RegionDeployer, agent: AgentProcess
) -> None:
    first = await deployer.deploy("v1")
    handle = await deployer.start("v2", scale_down_delay_s=600)
    await wait_for_phase(handle, "keep-warm")
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(RegionDeployWorkflow.promote, Decision(by="bob"))
    assert "not waiting for promotion" in str(refused.value.cause)
    provider = LocalProvider(agent.url, environment="test")
    mark = max((e.seq for e in await provider.events()), default=0)
    async with traffic(first.router_url) as seen:
        await handle.cancel()
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    assert seen.errors == 0 and seen.failures == 0
    swaps = await provider.events("routes.set", since=mark)
    assert len(swaps) == 1, f"exactly one route swap back, got {[e.detail for e in swaps]}"
    assert await versions_by_zone(agent) == {zone: ["v1"] for zone in ZONES}
    assert await answered(first.router_url) == {"v1"}


async def test_preview_and_smoke_reach_only_testers(
    deployer: RegionDeployer, agent: AgentProcess
) -> None:
    first = await deployer.deploy("v1")
    handle = await deployer.start(
        "v2",
        auto_promote=False,
        preview={"header": "X-Tester", "value": "yes"},
        smoke=[{"path": "/", "contains": "hello"}],
    )
    await wait_for_phase(handle, "awaiting-promotion")
    assert await answered(first.router_url, headers={"X-Tester": "yes"}) == {"v2"}
    assert await answered(first.router_url) == {"v1"}
    await handle.execute_update(RegionDeployWorkflow.promote, Decision(by="erin"))
    assert (await handle.result()).status == "finalized"


async def test_failing_smoke_check_rolls_back_before_users_see_it(
    deployer: RegionDeployer, agent: AgentProcess
) -> None:
    first = await deployer.deploy("v1")
    async with traffic(first.router_url) as seen:
        handle = await deployer.start("v2", smoke=[{"path": "/", "contains": "no such text"}])
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    assert "did not contain 'no such text'" in str(failure.value.cause)
    assert set(seen.by_version) == {"v1"} and seen.errors == 0
    assert await versions_by_zone(agent) == {zone: ["v1"] for zone in ZONES}


async def split_served(url: str, generation: int, n: int = 20, within: float = 120) -> Counter[str]:
    """The versions of the first ``n`` answers routed by ``generation`` (none by a later one).

    Answers of earlier generations (before the switch reached the router) are skipped.
    """
    seen: Counter[str] = Counter()
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=5) as http:
        while sum(seen.values()) < n:
            answer = await http.get(url)
            routed_by = int(answer.headers["X-Ferryman-Generation"])
            if routed_by < generation:
                assert time.monotonic() < deadline, f"generation {generation} never served"
                continue
            assert routed_by == generation, f"{generation} ended before {n} answers"
            seen[answer.headers["X-Ferryman-Version"]] += 1
    return seen


async def test_gradual_steps_serve_each_split_during_their_pauses(
    deployer: RegionDeployer, agent: AgentProcess
) -> None:
    first = await deployer.deploy("v1")
    provider = LocalProvider(agent.url, environment="test")
    base = (await provider.current_state("eu-1", "web")).generation
    mark = max(e.seq for e in await provider.events())
    # Long enough pauses to count 20 answers in each; the second is cut short by a promote.
    handle = await deployer.start("v2", traffic_steps=(25, 50, 100), pause_s=15)
    # Smooth round-robin from the table's first request: 20 answers are whole cycles.
    assert await split_served(first.router_url, base + 1) == {"v1": 15, "v2": 5}
    assert await split_served(first.router_url, base + 2) == {"v1": 10, "v2": 10}
    await wait_for_phase(handle, "paused")
    await handle.execute_update(RegionDeployWorkflow.promote, Decision(by="ops"))
    assert (await handle.result()).status == "finalized"
    swaps = await provider.events("routes.set", since=mark)
    assert [e.detail for e in swaps] == [f"test/eu-1 web {base + step}" for step in (1, 2, 3)]
    assert await answered(first.router_url, n=20) == {"v2"}


async def test_a_promote_before_the_barrier_is_kept_and_the_barrier_still_holds(
    deployer: RegionDeployer, agent: AgentProcess, tmp_path: Path
) -> None:
    first = await deployer.deploy("v1")
    provider = LocalProvider(agent.url, environment="test")
    healthy = tmp_path / "v2-may-serve"
    command = f"while [ ! -e {healthy} ]; do sleep 0.1; done; exec python3 server.py"
    handle = await deployer.start("v2", command, auto_promote=False, progress_deadline_s=120)
    await wait_for_phase(handle, "await-healthy")
    answer = await handle.execute_update(RegionDeployWorkflow.promote, Decision(by="early"))
    assert answer == "eu-1: promoted by early"
    with pytest.raises(WorkflowUpdateFailedError) as again:
        await handle.execute_update(RegionDeployWorkflow.promote, Decision(by="late"))
    assert "already promoted by early" in str(again.value.cause)
    assert await answered(first.router_url) == {"v1"}, "the promote did not skip the barrier"
    mark = max(e.seq for e in await provider.events())
    healthy.touch()
    assert (await handle.result()).status == "finalized"
    assert len(await provider.events("routes.set", since=mark)) == 1, "one switch, no hold"
    assert await answered(first.router_url) == {"v2"}
