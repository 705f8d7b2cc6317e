"""RegionDeployWorkflow on a zonal data plane: SetRoutes as two activities, stage then commit.

The provider is faked (``ZonalFake``, the two-phase state machine over the
fake provider's tables), so these pin the workflow's side: which calls it makes
in what order and under which keys, that a refused phase 1 fails the region
and puts it back, and that a missed commit is retried until it lands.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from ferryman.errors import AgentUnavailable, ProviderError
from ferryman.platform.models import RouteTable
from ferryman.platform.twophase import Switch, TwoPhaseError
from ferryman.providers.base import ZonalTraffic
from ferryman.temporal.models.region import RegionDeployRequest, RegionResult
from ferryman.temporal.workflows.region import RegionDeployWorkflow
from ferryman.testing.artifacts import store_signed
from ferryman.testing.fake_provider import FakeProvider
from ferryman.testing.workers import serving

from .test_region_workflow import ZONES, web

pytestmark = pytest.mark.timeout(120)


@dataclass
class ZonalFake(FakeProvider):
    """The fake provider with a two-phase switch.

    ``refusing`` zones refuse phase 1; the first ``miss_commits`` commits miss a
    zone (the retry lands them). Staging the table in force changes nothing.
    """

    refusing: set[str] = field(default_factory=set)
    miss_commits: int = 0
    switches: dict[int, Switch] = field(default_factory=dict)
    staged: dict[int, RouteTable] = field(default_factory=dict)
    tables: list[dict[str, int]] = field(default_factory=list)

    async def stage_traffic(
        self, key: str, region: str, zones: tuple[str, ...], routes: RouteTable
    ) -> int:
        self.calls.append(("stage", key))
        if self.routes.get((region, routes.service)) == routes:  # as the agent: nothing to do
            return self.generation.get(region, 0)
        generation = self.generation.get(region, 0) + len(self.switches) + 1
        switch = Switch.begin(generation, zones)
        for zone in zones:
            if zone in self.refusing:
                self.switches[generation] = switch.refuse(zone, "broken")
                raise ProviderError(f"zone {zone} refused generation {generation}; aborted")
            switch = switch.ack(zone)
        self.switches[generation], self.staged[generation] = switch, routes
        return generation

    async def commit_traffic(self, key: str, region: str, generation: int) -> int:
        self.calls.append(("commit", key))
        if generation not in self.switches:  # the generation in force, from an unchanged stage
            return generation
        try:
            switch = self.switches[generation].decide()
        except TwoPhaseError as error:
            raise ProviderError(str(error)) from None
        for zone in switch.lagging:
            if self.miss_commits and zone == switch.zones[-1]:
                self.miss_commits -= 1
                continue
            switch = switch.activate(zone)
        self.switches[generation] = switch
        if switch.lagging:
            raise AgentUnavailable(f"zone(s) {', '.join(switch.lagging)} missed the commit")
        if switch.phase == "committed" and self.generation.get(region, 0) < generation:
            routes = self.staged[generation]
            self.routes[(region, routes.service)] = routes
            self.generation[region] = generation
            self.tables.append(dict(routes.weights))
        return generation

    async def abort_traffic(self, key: str, region: str, generation: int) -> bool:
        self.switches[generation] = self.switches[generation].abort("by request")
        return True


@dataclass
class Zonal:
    env: WorkflowEnvironment
    provider: ZonalFake
    queue: str
    digest: str

    def request(
        self, version: str, data_plane: str = "zonal", **options: object
    ) -> RegionDeployRequest:
        from ferryman.testing.regions import one_service_deploy

        request = one_service_deploy(
            web(), version, self.digest, platform="fake", region="eu-1", zones=ZONES,
            options=options,
        )  # fmt: skip
        return request.model_copy(update={"data_plane": data_plane})

    async def deploy(
        self, version: str, data_plane: str = "zonal", **options: object
    ) -> RegionResult:
        return await self.env.client.execute_workflow(
            RegionDeployWorkflow.run,
            self.request(version, data_plane, **options),
            id=f"region-{uuid.uuid4()}",
            task_queue=self.queue,
        )

    def calls(self, *kinds: str) -> list[tuple[str, str]]:
        return [c for c in self.provider.calls if c[0] in kinds]


@pytest.fixture
async def zonal(
    time_skipping: WorkflowEnvironment, ferryman_home: Path, tmp_path: Path
) -> AsyncIterator[Zonal]:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "serve").write_text("#!/bin/sh\n")
    digest = store_signed(tmp_path / "app", ["serve"])
    provider = ZonalFake()
    assert isinstance(provider, ZonalTraffic)
    client = time_skipping.client
    async with serving(client, lambda platform, environment: provider, ["eu-1"]) as queue:
        yield Zonal(time_skipping, provider, queue, digest)


async def test_a_zonal_switch_stages_then_commits_never_swaps(zonal: Zonal) -> None:
    await zonal.deploy("v1")
    before = len(zonal.provider.calls)
    result = await zonal.deploy("v2")
    assert result.status == "finalized"
    calls = [c for c in zonal.provider.calls[before:] if c[0] in ("stage", "commit", "set_traffic")]
    assert [kind for kind, _ in calls] == ["stage", "commit"]
    stage_key, commit_key = calls[0][1], calls[1][1]
    assert stage_key.endswith("/switch/2/stage") and commit_key.endswith("/switch/2/commit")
    assert stage_key.removesuffix("/stage") == commit_key.removesuffix("/commit")
    assert zonal.provider.routes[("eu-1", "web")].weights == {"v2": 100}
    assert zonal.calls("set_traffic") == []


async def test_a_regional_region_still_swaps_once(zonal: Zonal) -> None:
    await zonal.deploy("v1", data_plane="regional")
    assert [kind for kind, _ in zonal.calls("stage", "commit", "set_traffic")] == ["set_traffic"]


async def test_every_traffic_step_is_its_own_two_phase_switch(zonal: Zonal) -> None:
    await zonal.deploy("v1")
    zonal.provider.tables.clear()
    await zonal.deploy("v2", traffic_steps=(10, 50, 100), pause_s=60)
    assert zonal.provider.tables == [{"v1": 90, "v2": 10}, {"v1": 50, "v2": 50}, {"v2": 100}]
    assert len(zonal.calls("stage")) == len(zonal.calls("commit")) == 4


async def test_a_zone_refusing_phase_1_fails_the_region_and_puts_it_back(zonal: Zonal) -> None:
    await zonal.deploy("v1")
    zonal.provider.refusing = {"b"}
    with pytest.raises(WorkflowFailureError) as failure:
        await zonal.deploy("v2")
    assert "zone b refused generation" in str(failure.value.cause)
    assert zonal.provider.routes[("eu-1", "web")].weights == {"v1": 100}, "nothing changed"
    assert {v for (_, _, _, v) in zonal.provider.instances} == {"v1"}, "v2 retired again"
    aborted = [s for s in zonal.provider.switches.values() if s.phase == "aborted"]
    assert aborted and all(not s.activated for s in aborted)


async def test_a_missed_commit_is_retried_until_every_zone_serves(zonal: Zonal) -> None:
    await zonal.deploy("v1")
    zonal.provider.miss_commits = 2
    before = len(zonal.provider.calls)
    result = await zonal.deploy("v2")
    assert result.status == "finalized"
    commits = [c for c in zonal.provider.calls[before:] if c[0] == "commit"]
    assert len(commits) == 3 and len({key for _, key in commits}) == 1, "retried under one key"
    stages = [c for c in zonal.provider.calls[before:] if c[0] == "stage"]
    assert len(stages) == 1, "phase 1 ran once"
    last = max(zonal.provider.switches)
    assert zonal.provider.switches[last].phase == "committed"
    assert zonal.provider.routes[("eu-1", "web")].weights == {"v2": 100}
