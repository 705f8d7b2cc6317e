"""Shared harness of the release workflow tests: three one-region waves on a fake provider."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from ferryman.plan.models import ReleasePlan, WavePlan
from ferryman.temporal.models.release import ReleaseResult
from ferryman.temporal.names import lock_id
from ferryman.temporal.workflows.release import ReleaseWorkflow
from ferryman.testing.fake_provider import FakeProvider
from ferryman.testing.waiting import eventually
from ferryman.testing.workers import serving

from .test_release_workflow import make_plan, make_repo

REGIONS = ("eu-1", "eu-2", "eu-3")
ReleaseHandle = WorkflowHandle[ReleaseWorkflow, ReleaseResult]


@dataclass
class Saga:
    env: WorkflowEnvironment
    provider: FakeProvider
    queue: str
    root: Path

    def plan(
        self, version: str, bakes: tuple[float, ...] = (0, 0, 0), **deploy: object
    ) -> ReleasePlan:
        plan = make_plan(self.root, version, health_s=0.5, regions=REGIONS)
        waves = tuple(WavePlan(regions=(r,), bake_s=s) for r, s in zip(REGIONS, bakes, strict=True))
        update = {"waves": waves, **deploy}
        return plan.model_copy(update={"deploy": plan.deploy.model_copy(update=update)})

    async def start(self, plan: ReleasePlan) -> ReleaseHandle:
        return await self.env.client.start_workflow(
            ReleaseWorkflow.run, plan, id=f"release/hello/dev/{uuid.uuid4()}", task_queue=self.queue
        )

    def serving(self, region: str) -> dict[str, int]:
        return dict(self.provider.routes[(region, "web")].weights)

    def running(self, region: str) -> set[str]:
        return {v for (r, _, _, v) in self.provider.instances if r == region}

    def restored_order(self) -> list[str]:
        """Regions in the order their route tables were put back."""
        keys = [key for kind, key in self.provider.calls if kind == "set_traffic"]
        return [key.split("/")[-4] for key in keys if "/restore/" in key]


@pytest.fixture
async def saga(
    time_skipping: WorkflowEnvironment, tmp_path: Path, ferryman_home: Path
) -> AsyncIterator[Saga]:
    make_repo(tmp_path)
    provider = FakeProvider()
    async with serving(time_skipping.client, lambda p, e: provider, REGIONS) as queue:
        harness = Saga(time_skipping, provider, queue, tmp_path)
        await (await harness.start(harness.plan("v1"))).result()
        yield harness
        # A test that terminated a release leaves its environment's lock held; the lock's
        # check on the holder would then wait for a worker forever, and the time-skipping
        # server skips no time while an activity is outstanding.
        lock = time_skipping.client.get_workflow_handle(lock_id("hello", "dev", queue))
        with contextlib.suppress(RPCError):
            await lock.terminate()


async def wait_phase(handle: ReleaseHandle, phase: str, wave_region: str | None = None) -> None:
    """Poll the release's progress until it is in ``phase`` (with ``wave_region`` switched)."""

    async def reached() -> bool:
        try:
            progress = await handle.query(
                ReleaseWorkflow.progress, rpc_timeout=timedelta(seconds=10)
            )
        except RPCError:
            # A query that lands while the release continues as new can time out; ask again.
            return False
        region_ok = wave_region is None or progress.regions.get(wave_region) == "switched"
        return progress.phase == phase and region_ok

    await eventually(reached, what=f"release phase {phase}")
