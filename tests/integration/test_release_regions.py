"""Releases across regions on the real platform: order, a failing region, rollback, promote.

The hello example deployed to three regions of one zone each, one wave per
region unless a test says otherwise. Order is read from the agent's event log
(which region each ``instance.started`` and ``routes.set`` names, in sequence),
and what each region serves from real requests through its own router.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle

from ferryman.deploy.strategies import BlueGreenOptions
from ferryman.errors import ReleaseError
from ferryman.plan.models import RegionPlan, ReleasePlan, WavePlan
from ferryman.providers.local import LocalProvider
from ferryman.providers.local.wire import AgentEvent
from ferryman.temporal.client.decisions import promote, rollback
from ferryman.temporal.models.region import Decision
from ferryman.temporal.models.release import ReleaseResult
from ferryman.temporal.names import region_deploy_id
from ferryman.temporal.worker.workers import local_providers
from ferryman.temporal.workflows.region import RegionDeployWorkflow
from ferryman.temporal.workflows.release import ReleaseWorkflow
from ferryman.testing import AgentProcess
from ferryman.testing.workers import serving

from .bluegreen_helpers import wait_for_phase
from .release_helpers import hello_plan, served, with_service

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

REGIONS = ("north-1", "middle-1", "south-1")
SWITCHING = ("instance.started", "routes.set")


def across(
    plan: ReleasePlan, regions: tuple[str, ...] = REGIONS, waves: tuple[WavePlan, ...] = ()
) -> ReleasePlan:
    """``plan`` deployed to ``regions`` (zone ``a`` each), in ``waves`` (default: one each)."""
    where = tuple(RegionPlan(name=name, zones=("a",)) for name in regions)
    deploy = plan.deploy.model_copy(update={"regions": where, "waves": waves})
    return plan.model_copy(update={"deploy": deploy})


def held(plan: ReleasePlan) -> ReleasePlan:
    """``plan`` with blue-green that waits for a promote in every region."""
    strategy = BlueGreenOptions(auto_promote=False, scale_down_delay_s=0)
    return with_service(plan, strategy=strategy)


def region_of(event: AgentEvent) -> str:
    """The region an instance or routes event names (its detail starts ``dev/<region>``)."""
    return event.detail.split(" ", 1)[0].removeprefix("dev/")


@dataclass
class Releases:
    client: Client
    queue: str
    provider: LocalProvider

    async def start(self, plan: ReleasePlan) -> WorkflowHandle[ReleaseWorkflow, ReleaseResult]:
        return await self.client.start_workflow(
            ReleaseWorkflow.run,
            plan,
            id=f"release/{plan.system}/{plan.environment}/{uuid.uuid4()}",
            task_queue=self.queue,
        )

    async def run(self, plan: ReleasePlan) -> ReleaseResult:
        return await (await self.start(plan)).result()

    async def mark(self) -> int:
        """The agent's last event so far."""
        return max((e.seq for e in await self.provider.events()), default=0)

    async def since(self, mark: int, *kinds: str) -> list[AgentEvent]:
        return [e for e in await self.provider.events(since=mark) if e.kind in kinds]

    def region(self, release: str, region: str) -> WorkflowHandle[RegionDeployWorkflow, object]:
        return self.client.get_workflow_handle_for(
            RegionDeployWorkflow.run, region_deploy_id(release, region)
        )


@pytest.fixture
async def releases(
    dev_client: Client, agent: AgentProcess, ferryman_home: Path
) -> AsyncIterator[Releases]:
    async with serving(dev_client, local_providers(agent.url), REGIONS) as queue:
        yield Releases(dev_client, queue, LocalProvider(agent.url, environment="dev"))


def versions(result: ReleaseResult) -> dict[str, str]:
    """What each region's router answers to real requests (versions joined by ',')."""
    return {
        region: ",".join(sorted({a["version"] for a in served(url)}))
        for region, url in result.router_urls.items()
    }


async def test_regions_switch_one_after_another_and_retire_after_the_last(
    releases: Releases, hello_spec: Path
) -> None:
    first = await releases.run(across(hello_plan(hello_spec, "v1")))
    mark = await releases.mark()
    second = await releases.run(across(hello_plan(hello_spec, "v2")))
    assert second.status == "succeeded"
    assert versions(second) == dict.fromkeys(REGIONS, "v2")
    switching = await releases.since(mark, *SWITCHING)
    order = [(region_of(e), e.kind) for e in switching]
    # Each region starts its two instances and swaps its routes before the next one begins.
    assert order == [
        (region, kind)
        for region in REGIONS
        for kind in ("instance.started", "instance.started", "routes.set")
    ], order
    retired = await releases.since(mark, "instance.stopped")
    assert sorted(region_of(e) for e in retired) == sorted(REGIONS * 2), "v1 retired everywhere"
    assert min(e.seq for e in retired) > max(e.seq for e in switching), "only after every switch"
    assert first.router_urls == second.router_urls


async def test_a_failing_region_stops_the_release_and_puts_the_earlier_ones_back(
    releases: Releases, hello_spec: Path
) -> None:
    first = await releases.run(across(hello_plan(hello_spec, "v1")))
    mark = await releases.mark()
    broken = (
        'if [ "$FERRYMAN_REGION" = middle-1 ]; then exec sleep 600; fi; exec python3 dist/server.py'
    )
    plan = across(hello_plan(hello_spec, "v2"))
    health = plan.deploy.services[0].health.model_copy(update={"timeout_s": 3.0})
    with pytest.raises(WorkflowFailureError) as failure:
        await releases.run(with_service(plan, command=broken, health=health))
    message = str(failure.value.cause)
    assert "middle-1" in message and "0/2 instances healthy" in message
    assert message.endswith("; restored north-1"), message
    events = await releases.since(mark, *SWITCHING, "instance.stopped")
    assert "south-1" not in {region_of(e) for e in events}, "the next region never started"
    north = [e.kind for e in events if region_of(e) == "north-1"]
    assert north.count("routes.set") == 2, "north-1 switched, then swapped back once"
    middle = [e.kind for e in events if region_of(e) == "middle-1"]
    assert middle.count("routes.set") == 0 and middle.count("instance.stopped") == 2
    assert versions(first) == dict.fromkeys(REGIONS, "v1")
    for region in REGIONS:
        state = await releases.provider.current_state(region, "web")
        assert state.versions_by_zone == {"a": ["v1"]}, region


async def test_rollback_while_the_second_region_waits_puts_the_first_back(
    releases: Releases, hello_spec: Path, dev_client: Client
) -> None:
    two = REGIONS[:2]
    first = await releases.run(across(hello_plan(hello_spec, "v1"), two))
    mark = await releases.mark()
    handle = await releases.start(held(across(hello_plan(hello_spec, "v2"), two)))
    await wait_for_phase(releases.region(handle.id, "north-1"), "awaiting-promotion")
    # No region named: only north-1 is deploying, so only north-1 is promoted.
    answers = await promote(dev_client, handle.id, Decision(by="ops"))
    assert answers == ["north-1: promoted by ops"]
    await wait_for_phase(releases.region(handle.id, "middle-1"), "awaiting-promotion")
    assert versions(first) == {"north-1": "v2", "middle-1": "v1"}
    answer = await rollback(dev_client, handle.id, Decision(by="erin", reason="p99 up"))
    assert "rolled-back (restored north-1; asked by erin)" in answer
    assert (await handle.result()).status == "rolled-back"
    assert versions(first) == dict.fromkeys(two, "v1")
    swaps = [region_of(e) for e in await releases.since(mark, "routes.set")]
    assert swaps == ["north-1", "north-1"], "north-1 switched and swapped back; middle-1 never"
    for region in two:
        state = await releases.provider.current_state(region, "web")
        assert state.versions_by_zone == {"a": ["v1"]}, region


async def test_promote_without_a_region_promotes_every_region_of_the_wave(
    releases: Releases, hello_spec: Path, dev_client: Client
) -> None:
    two = (REGIONS[0], REGIONS[2])
    one_wave = (WavePlan(regions=two),)
    first = await releases.run(across(hello_plan(hello_spec, "v1"), two, one_wave))
    handle = await releases.start(held(across(hello_plan(hello_spec, "v2"), two, one_wave)))
    await asyncio.gather(
        *(wait_for_phase(releases.region(handle.id, r), "awaiting-promotion") for r in two)
    )
    assert versions(first) == dict.fromkeys(two, "v1"), "nothing switched before the promote"
    answers = await promote(dev_client, handle.id, Decision(by="ops"))
    assert sorted(answers) == [f"{r}: promoted by ops" for r in sorted(two)]
    result = await handle.result()
    assert result.status == "succeeded"
    assert versions(result) == dict.fromkeys(two, "v2")
    with pytest.raises(ReleaseError, match="has no region deploying right now"):
        await promote(dev_client, handle.id, Decision(by="late"))
