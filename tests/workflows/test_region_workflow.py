"""RegionDeployWorkflow logic on the time-skipping server with an in-memory provider.

Timers (pauses, keep-warm) are skipped; the provider is faked, so these pin the
workflow's decisions: which route tables it sets in what order, what it
retires, when it refuses a promote or rollback, and what it restores.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from temporalio.client import WorkflowFailureError, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from ferryman import paths
from ferryman.build.artifacts import ArtifactStore
from ferryman.plan.models import HealthPlan, ServicePlan
from ferryman.platform.models import RouteTable
from ferryman.temporal.models.region import Decision, RegionDeployRequest, RegionResult
from ferryman.temporal.worker.main import build_workers
from ferryman.temporal.worker.regions import RegionWorkers
from ferryman.temporal.workflows.region import RegionDeployWorkflow
from ferryman.testing.fake_provider import FakeProvider
from ferryman.testing.regions import one_service_deploy

ZONES = ("a", "b", "c")


@dataclass
class RecordingProvider(FakeProvider):
    """The fake provider, also remembering every route table's weights in order."""

    tables: list[dict[str, int]] = field(default_factory=list)

    async def set_traffic(self, key: str, region: str, routes: RouteTable) -> int:
        generation = await super().set_traffic(key, region, routes)
        self.tables.append(dict(routes.weights))
        return generation


@dataclass
class Harness:
    env: WorkflowEnvironment
    provider: RecordingProvider
    queue: str
    prefix: str
    digest: str

    def request(self, version: str, **options: object) -> RegionDeployRequest:
        service = ServicePlan(
            name="web",
            artifact_node="app",
            command="serve",
            replicas=2,
            health=HealthPlan(timeout_s=1, interval_s=0.05),
        )
        return one_service_deploy(
            service,
            version,
            self.digest,
            platform="fake",
            region="eu-1",
            zones=ZONES,
            queue_prefix=self.prefix,
            options=options,
        )

    async def start(
        self, version: str, **options: object
    ) -> WorkflowHandle[RegionDeployWorkflow, RegionResult]:
        return await self.env.client.start_workflow(
            RegionDeployWorkflow.run,
            self.request(version, **options),
            id=f"region-{uuid.uuid4()}",
            task_queue=self.queue,
        )

    async def deploy(self, version: str, **options: object) -> RegionResult:
        return await (await self.start(version, **options)).result()

    def weights(self) -> dict[str, int]:
        return dict(self.provider.routes[("eu-1", "web")].weights)

    def versions(self) -> set[str]:
        return {version for (_, _, _, version) in self.provider.instances}


@pytest.fixture
async def harness(
    time_skipping: WorkflowEnvironment, ferryman_home: Path, tmp_path: Path
) -> AsyncIterator[Harness]:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "serve").write_text("#!/bin/sh\n")
    digest = ArtifactStore(paths.artifacts_dir()).collect(tmp_path / "app", ["serve"]).digest
    provider = RecordingProvider()
    queue, prefix = f"q-{uuid.uuid4()}", f"r-{uuid.uuid4()}-"
    client = time_skipping.client
    async with RegionWorkers(client, lambda _: provider, prefix=prefix) as regions:
        main, _ = build_workers(
            client,
            lambda _: provider,
            task_queue=queue,
            build_task_queue=f"b-{uuid.uuid4()}",
            regions=regions,
        )
        async with main:
            yield Harness(time_skipping, provider, queue, prefix, digest)


async def wait_phase(
    handle: WorkflowHandle[RegionDeployWorkflow, RegionResult], phase: str
) -> None:
    for _ in range(400):
        if (await handle.query(RegionDeployWorkflow.progress)).phase == phase:
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"never reached phase {phase}")


async def test_first_deploy_goes_live_in_every_zone(harness: Harness) -> None:
    result = await harness.deploy("v1")
    assert result.status == "succeeded"
    assert harness.weights() == {"v1": 100}
    assert harness.provider.starts == 6
    assert {zone for (_, zone, _, _) in harness.provider.instances} == set(ZONES)


async def test_switch_keeps_old_warm_then_retires_it(harness: Harness) -> None:
    await harness.deploy("v1")
    result = await harness.deploy("v2")
    assert result.status == "succeeded"
    assert harness.weights() == {"v2": 100}
    assert harness.versions() == {"v2"}


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
    assert "zone b of eu-1" in str(failure.value.cause)
    assert harness.weights() == {"v1": 100}
    assert harness.versions() == {"v1"}


async def test_manual_promotion_refused_until_waiting_then_switches(harness: Harness) -> None:
    await harness.deploy("v1")
    handle = await harness.start("v2", auto_promote=False, scale_down_delay_s=0)
    await wait_phase(handle, "awaiting-promotion")
    assert harness.weights() == {"v1": 100}
    answer = await handle.execute_update(RegionDeployWorkflow.promote, Decision(by="alice"))
    assert "promoted by alice" in answer
    assert (await handle.result()).status == "succeeded"
    assert harness.weights() == {"v2": 100}


async def test_promote_is_refused_when_nothing_waits(harness: Harness) -> None:
    await harness.deploy("v1")
    handle = await harness.start("v2", scale_down_delay_s=3600)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(RegionDeployWorkflow.promote, Decision(by="bob"))
    assert "not waiting for promotion" in str(refused.value.cause)
    await handle.terminate()


async def test_rollback_during_keep_warm_is_one_route_swap(harness: Harness) -> None:
    await harness.deploy("v1")
    handle = await harness.start("v2", scale_down_delay_s=3600)
    for _ in range(400):
        progress = await handle.query(RegionDeployWorkflow.progress)
        if progress.services[0].phase == "keep-warm":
            break
        await asyncio.sleep(0.025)
    assert harness.weights() == {"v2": 100}
    answer = await handle.execute_update(
        RegionDeployWorkflow.rollback, Decision(by="carol", reason="errors up")
    )
    assert "rolled-back" in answer and "carol" in answer
    result = await handle.result()
    assert result.status == "rolled-back" and result.reason == "errors up"
    assert harness.weights() == {"v1": 100}
    assert harness.versions() == {"v1"}


async def test_updates_after_the_end_are_refused_by_the_server(harness: Harness) -> None:
    handle = await harness.start("v1")
    await handle.result()
    for update in (RegionDeployWorkflow.rollback, RegionDeployWorkflow.promote):
        with pytest.raises(RPCError, match=r"completed|not found"):
            await handle.execute_update(update, Decision(by="dave"))  # type: ignore[arg-type]
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
    assert (await handle.result()).status == "succeeded"
    assert harness.weights() == {"v2": 100}
