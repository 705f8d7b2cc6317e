"""RegionDeployWorkflow logic on the time-skipping server with an in-memory provider.

Timers (pauses, keep-warm) are skipped; the provider is faked, so these pin the
workflow's decisions: which route tables it sets in what order, what it
retires, when it refuses a promote, and what a failure, a cancellation or a
``restore`` puts back.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from ferryman import paths
from ferryman.build.artifacts import ArtifactStore
from ferryman.deploy.steps import Retire
from ferryman.deploy.strategies import BlueGreenOptions
from ferryman.plan.models import HealthPlan, ServicePlan
from ferryman.platform.models import RouteTable
from ferryman.temporal.models.region import (
    Decision,
    RegionDeployRequest,
    RegionResult,
    ServiceRollout,
)
from ferryman.temporal.workflows.region import RegionDeployWorkflow
from ferryman.testing.artifacts import store_signed
from ferryman.testing.fake_provider import FakeProvider
from ferryman.testing.regions import one_service_deploy
from ferryman.testing.waiting import eventually
from ferryman.testing.workers import serving

ZONES = ("a", "b", "c")
RegionHandle = WorkflowHandle[RegionDeployWorkflow, RegionResult]


@dataclass
class RecordingProvider(FakeProvider):
    """The fake provider, also remembering every route table's weights in order."""

    tables: list[dict[str, int]] = field(default_factory=list)

    async def set_traffic(self, key: str, region: str, routes: RouteTable) -> int:
        generation = await super().set_traffic(key, region, routes)
        self.tables.append(dict(routes.weights))
        return generation


def web(name: str = "web", command: str = "serve") -> ServicePlan:
    return ServicePlan(
        name=name,
        artifact_node="app",
        command=command,
        replicas=2,
        health=HealthPlan(timeout_s=1, interval_s=0.05),
    )


@dataclass
class Harness:
    env: WorkflowEnvironment
    provider: RecordingProvider
    queue: str
    digest: str

    def request(
        self, version: str, finalize_now: bool = True, **options: Any
    ) -> RegionDeployRequest:
        return one_service_deploy(
            web(),
            version,
            self.digest,
            platform="fake",
            region="eu-1",
            zones=ZONES,
            options=options,
            finalize_now=finalize_now,
        )

    async def run(self, request: RegionDeployRequest) -> RegionHandle:
        return await self.env.client.start_workflow(
            RegionDeployWorkflow.run,
            request,
            id=f"region-{uuid.uuid4()}",
            task_queue=self.queue,
        )

    async def start(self, version: str, finalize_now: bool = True, **options: Any) -> RegionHandle:
        return await self.run(self.request(version, finalize_now, **options))

    async def deploy(self, version: str, finalize_now: bool = True, **options: Any) -> RegionResult:
        return await (await self.start(version, finalize_now, **options)).result()

    async def follow_up(self, action: str, previous: RegionResult) -> RegionResult:
        request = self.request("unused").model_copy(
            update={"action": action, "services": (), "previous": previous}
        )
        return await (await self.run(request)).result()

    def weights(self, service: str = "web") -> dict[str, int]:
        return dict(self.provider.routes[("eu-1", service)].weights)

    def versions(self, service: str = "web") -> set[str]:
        return {v for (_, _, svc, v) in self.provider.instances if svc == service}


@pytest.fixture
async def harness(
    time_skipping: WorkflowEnvironment, ferryman_home: Path, tmp_path: Path
) -> AsyncIterator[Harness]:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "serve").write_text("#!/bin/sh\n")
    digest = store_signed(tmp_path / "app", ["serve"])
    provider = RecordingProvider()
    client = time_skipping.client
    async with serving(client, lambda platform, environment: provider, ["eu-1"]) as queue:
        yield Harness(time_skipping, provider, queue, digest)


async def wait_for(handle: RegionHandle, phase: str, service_phase: bool = False) -> None:
    """Poll the progress query until the region (or its first service) reaches ``phase``."""

    async def reached() -> bool:
        progress = await handle.query(RegionDeployWorkflow.progress)
        current = progress.services[0].phase if service_phase and progress.services else None
        return (current if service_phase else progress.phase) == phase

    await eventually(reached, what=f"phase {phase}")


async def test_first_deploy_goes_live_in_every_zone(harness: Harness) -> None:
    result = await harness.deploy("v1")
    assert result.status == "finalized"
    assert harness.weights() == {"v1": 100}
    assert harness.provider.starts == 6
    assert {zone for (_, zone, _, _) in harness.provider.instances} == set(ZONES)


async def test_switch_keeps_the_old_version_warm_until_finalize(harness: Harness) -> None:
    await harness.deploy("v1")
    switched = await harness.deploy("v2", finalize_now=False, scale_down_delay_s=0)
    assert switched.status == "switched"
    assert harness.weights() == {"v2": 100}
    assert harness.versions() == {"v1", "v2"}, "the old version stays warm after the switch"
    outcome = switched.services[0]
    assert outcome.recorded.routes is not None and outcome.recorded.routes.weights == {"v1": 100}
    assert outcome.recorded.launches["v1"].artifact_digest == harness.digest
    assert outcome.finalize == (Retire(version="v1"),)
    finalized = await harness.follow_up("finalize", switched)
    assert finalized.status == "finalized" and finalized.services[0].finalize == ()
    assert harness.versions() == {"v2"}


async def test_a_finalize_shows_the_new_version_alone_live_in_every_zone(harness: Harness) -> None:
    await harness.deploy("v1")
    switched = await harness.deploy("v2", finalize_now=False, scale_down_delay_s=0)
    request = harness.request("unused").model_copy(
        update={"action": "finalize", "services": (), "previous": switched}
    )
    handle = await harness.run(request)
    await handle.result()
    view = (await handle.query(RegionDeployWorkflow.progress)).services[0]
    assert (view.phase, view.weights) == ("finalized", {"v2": 100})
    assert [(z.zone, z.status, z.versions) for z in view.zones] == [
        (zone, "live", ("v2",)) for zone in ZONES
    ]


async def test_same_version_again_is_unchanged(harness: Harness) -> None:
    await harness.deploy("v1")
    calls = len(harness.provider.calls)
    assert (await harness.deploy("v1")).status == "unchanged"
    assert len(harness.provider.calls) == calls


async def test_gradual_steps_set_each_split_in_order(harness: Harness) -> None:
    await harness.deploy("v1")
    harness.provider.tables.clear()
    await harness.deploy("v2", traffic_steps=(10, 50, 100), pause_s=60)
    assert harness.provider.tables == [{"v1": 90, "v2": 10}, {"v1": 50, "v2": 50}, {"v2": 100}]
    assert harness.versions() == {"v2"}


async def test_unhealthy_zone_rolls_back_everywhere(harness: Harness) -> None:
    await harness.deploy("v1")
    harness.provider.unhealthy_zones = {"b"}
    with pytest.raises(WorkflowFailureError) as failure:
        await harness.deploy("v2", progress_deadline_s=0.3)
    message = str(failure.value.cause)
    assert "eu-1: zone b: web v2 0/2 instances healthy" in message
    assert harness.weights() == {"v1": 100}
    assert harness.versions() == {"v1"}


async def test_restore_after_a_switch_is_one_swap_and_a_retire(harness: Harness) -> None:
    await harness.deploy("v1")
    switched = await harness.deploy("v2", finalize_now=False)
    harness.provider.tables.clear()
    restored = await harness.follow_up("restore", switched)
    assert restored.status == "restored"
    assert harness.provider.tables == [{"v1": 100}], "exactly one route swap back"
    assert harness.versions() == {"v1"}


async def test_restore_after_finalize_starts_the_old_version_again(harness: Harness) -> None:
    await harness.deploy("v1")
    finalized = await harness.deploy("v2", scale_down_delay_s=0)
    assert harness.versions() == {"v2"}
    starts = harness.provider.starts
    await harness.follow_up("restore", finalized)
    assert harness.versions() == {"v1"}
    assert harness.weights() == {"v1": 100}
    assert harness.provider.starts == starts + 6, "v1 started again in 3 zones × 2 replicas"


async def test_a_failing_second_service_puts_the_first_back(harness: Harness) -> None:
    strategy = BlueGreenOptions(scale_down_delay_s=0, progress_deadline_s=0.3)
    first = harness.request("v1")
    services = tuple(
        ServiceRollout(
            service=web(name).model_copy(update={"strategy": strategy}),
            version="v1",
            artifact_digest=harness.digest,
        )
        for name in ("api", "ui")
    )
    await (await harness.run(first.model_copy(update={"services": services}))).result()
    v2 = tuple(s.model_copy(update={"version": "v2"}) for s in services)
    harness.provider.unhealthy_zones = {"c"}  # ui v2 never becomes healthy; api v2 does first
    original = harness.provider.health

    async def health(region: str, zone: str, service: str, version: str) -> Any:
        report = await original(region, zone, service, version)
        if service == "api":
            return report.model_copy(update={"healthy": report.total})
        return report

    harness.provider.health = health  # type: ignore[method-assign]
    with pytest.raises(WorkflowFailureError):
        await (await harness.run(first.model_copy(update={"services": v2}))).result()
    assert harness.weights("api") == {"v1": 100}, "api was switched, then put back"
    assert harness.weights("ui") == {"v1": 100}
    assert harness.versions("api") == {"v1"} and harness.versions("ui") == {"v1"}


async def test_an_unsigned_artifact_is_refused_before_any_instance_starts(
    harness: Harness, tmp_path: Path
) -> None:
    await harness.deploy("v1")
    (tmp_path / "unsigned").mkdir()
    (tmp_path / "unsigned" / "serve").write_text("#!/bin/sh\nexit 1\n")
    unsigned = ArtifactStore(paths.artifacts_dir()).collect(tmp_path / "unsigned", ["serve"])
    first = harness.request("v2")
    services = (
        first.services[0],
        first.services[0].model_copy(
            update={"service": web("api"), "artifact_digest": unsigned.digest}
        ),
    )
    calls = len(harness.provider.calls)
    with pytest.raises(WorkflowFailureError) as failure:
        await (await harness.run(first.model_copy(update={"services": services}))).result()
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "ArtifactRejected"
    assert cause.message == (
        f"eu-1: api v2 refused: artifact {unsigned.digest[:19]}… is unsigned: it has no provenance"
    )
    assert harness.provider.calls[calls:] == [], "nothing started, routed or retired"
    assert harness.weights() == {"v1": 100} and harness.versions() == {"v1"}


async def test_a_failed_switch_puts_every_service_back_before_any_cleanup(
    harness: Harness,
) -> None:
    strategy = BlueGreenOptions(scale_down_delay_s=0, progress_deadline_s=30)
    first = harness.request("v1")
    services = tuple(
        ServiceRollout(
            service=web(name).model_copy(update={"strategy": strategy}),
            version="v1",
            artifact_digest=harness.digest,
        )
        for name in ("api", "ui")
    )
    await (await harness.run(first.model_copy(update={"services": services}))).result()
    original = harness.provider.health

    async def health(region: str, zone: str, service: str, version: str) -> Any:
        report = await original(region, zone, service, version)
        sick = service == "ui" and version == "v2"
        return report.model_copy(update={"healthy": 0}) if sick else report

    harness.provider.health = health  # type: ignore[method-assign]
    v2 = tuple(s.model_copy(update={"version": "v2"}) for s in services)
    second = harness.request("v2").model_copy(update={"services": v2})
    with pytest.raises(WorkflowFailureError):
        await (await harness.run(second)).result()
    assert harness.weights("api") == {"v1": 100} and harness.weights("ui") == {"v1": 100}
    assert harness.versions("api") == {"v1"} and harness.versions("ui") == {"v1"}
    # Keys read <release>/eu-1/<service>/rollback/<step>[/<zone>].
    undo = [
        (call, key.removeprefix(f"{second.release_id}/eu-1/").split("/")[0])
        for call, key in harness.provider.calls
        if key.startswith(second.release_id) and "/rollback/" in key
    ]
    assert undo[0] == ("set_traffic", "api"), f"users first, then the cleanups: {undo}"
    assert undo[1:] == [("retire", "ui")] * 3 + [("retire", "api")] * 3, undo


async def test_cancel_during_keep_warm_puts_everything_back(harness: Harness) -> None:
    await harness.deploy("v1")
    handle = await harness.start("v2", scale_down_delay_s=3600)
    await wait_for(handle, "keep-warm", service_phase=True)
    assert harness.weights() == {"v2": 100}
    harness.provider.tables.clear()
    await handle.cancel()
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    assert harness.provider.tables == [{"v1": 100}]
    assert harness.versions() == {"v1"}


async def test_manual_promotion_refused_until_waiting_then_switches(harness: Harness) -> None:
    await harness.deploy("v1")
    handle = await harness.start("v2", auto_promote=False, scale_down_delay_s=0)
    await wait_for(handle, "awaiting-promotion")
    assert harness.weights() == {"v1": 100}
    answer = await handle.execute_update(RegionDeployWorkflow.promote, Decision(by="alice"))
    assert "promoted by alice" in answer
    assert (await handle.result()).status == "finalized"
    assert harness.weights() == {"v2": 100}


async def test_promote_is_refused_when_nothing_waits(harness: Harness) -> None:
    await harness.deploy("v1")
    handle = await harness.start("v2", scale_down_delay_s=3600)
    await wait_for(handle, "keep-warm", service_phase=True)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(RegionDeployWorkflow.promote, Decision(by="bob"))
    assert "not waiting for promotion" in str(refused.value.cause)
    await handle.terminate()


async def test_updates_after_the_end_are_refused_by_the_server(harness: Harness) -> None:
    handle = await harness.start("v1")
    await handle.result()
    with pytest.raises(RPCError, match=r"completed|not found"):
        await handle.execute_update(RegionDeployWorkflow.promote, Decision(by="dave"))
    assert harness.weights() == {"v1": 100}


async def test_promote_before_the_gate_is_kept_and_releases_it(harness: Harness) -> None:
    await harness.deploy("v1")
    harness.provider.unhealthy_zones = {"c"}  # hold the deploy at its barrier for now
    handle = await harness.start(
        "v2", auto_promote=False, progress_deadline_s=3600, scale_down_delay_s=0
    )
    answer = await handle.execute_update(RegionDeployWorkflow.promote, Decision(by="early"))
    assert "promoted by early" in answer
    with pytest.raises(WorkflowUpdateFailedError) as again:
        await handle.execute_update(RegionDeployWorkflow.promote, Decision(by="late"))
    assert "already promoted by early" in str(again.value.cause)
    assert harness.weights() == {"v1": 100}, "an early promote does not skip the barrier"
    harness.provider.unhealthy_zones = set()
    assert (await handle.result()).status == "finalized"
    assert harness.weights() == {"v2": 100}
