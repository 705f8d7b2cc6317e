"""ferryman's workflows as a careless change would leave them, and as they are.

Each ``Altered…`` class is registered under its workflow's name and changes one
thing a developer might plausibly change, and that changes the commands the
workflow issues; each ``AsIs…`` class goes through the same subclassing and
re-registration but changes nothing. The replay tests expect the altered ones
to fail with a ``NondeterminismError`` and the unchanged ones to pass on the
same histories, so a failure can only come from the change itself.
``PatchedRelease`` makes ``AlteredRelease``'s change the way docs/versioning.md
says to, and passes too.

Workflow modules: run in Temporal's sandbox, so this module imports nothing but
the workflows and what they import.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from ferryman.plan.models import ReleasePlan
    from ferryman.plan.release import BuildStep, ReleaseStep
    from ferryman.temporal.models.build import BuildRequest, BuildResult, NodeResult
    from ferryman.temporal.models.region import RegionDeployRequest, RegionResult
    from ferryman.temporal.models.release import ReleaseContinuation, ReleaseResult
    from ferryman.temporal.workflows.build import BuildWorkflow
    from ferryman.temporal.workflows.region import RegionDeployWorkflow
    from ferryman.temporal.workflows.release import ReleaseWorkflow


@workflow.defn(name="ferryman.Release")
class AlteredRelease(ReleaseWorkflow):
    """Takes the environment's lock before the build instead of before the first wave."""

    @workflow.run
    async def run(self, start: ReleasePlan | ReleaseContinuation) -> ReleaseResult:
        """The release, unchanged here."""
        return await super().run(start)

    async def _step(self, plan: ReleasePlan, step: ReleaseStep) -> None:
        if isinstance(step, BuildStep):
            await self._take_lock(plan)  # the change: an activity before the build child
        await super()._step(plan, step)


@workflow.defn(name="ferryman.Release")
class PatchedRelease(ReleaseWorkflow):
    """``AlteredRelease``'s change made safely: behind ``workflow.patched`` (docs/versioning.md)."""

    @workflow.run
    async def run(self, start: ReleasePlan | ReleaseContinuation) -> ReleaseResult:
        """The release, unchanged here."""
        return await super().run(start)

    async def _step(self, plan: ReleasePlan, step: ReleaseStep) -> None:
        if isinstance(step, BuildStep) and workflow.patched("lock-before-build"):
            await self._take_lock(plan)
        await super()._step(plan, step)


@workflow.defn(name="ferryman.Release")
class AsIsRelease(ReleaseWorkflow):
    """``ReleaseWorkflow``, subclassed and registered again, unchanged."""

    @workflow.run
    async def run(self, start: ReleasePlan | ReleaseContinuation) -> ReleaseResult:
        """The release, unchanged."""
        return await super().run(start)


@workflow.defn(name="ferryman.Build")
class AlteredBuild(BuildWorkflow):
    """Builds every node without looking in the cache first."""

    @workflow.run
    async def run(self, request: BuildRequest) -> BuildResult:
        """The build, unchanged here."""
        return await super().run(request)

    async def _cached(self, request: BuildRequest) -> dict[str, NodeResult]:
        return {}  # the change: no cache-probe activity


@workflow.defn(name="ferryman.Build")
class AsIsBuild(BuildWorkflow):
    """``BuildWorkflow``, subclassed and registered again, unchanged."""

    @workflow.run
    async def run(self, request: BuildRequest) -> BuildResult:
        """The build, unchanged."""
        return await super().run(request)


@workflow.defn(name="ferryman.RegionDeploy")
class AlteredRegionDeploy(RegionDeployWorkflow):
    """Waits a while before retiring the old versions (a new scale-down delay)."""

    @workflow.run
    async def run(self, request: RegionDeployRequest) -> RegionResult:
        """The region deploy, unchanged here."""
        return await super().run(request)

    async def _finalize(self, result: RegionResult) -> RegionResult:
        await workflow.sleep(timedelta(seconds=30))  # the change: a timer before retiring
        return await super()._finalize(result)


@workflow.defn(name="ferryman.RegionDeploy")
class AsIsRegionDeploy(RegionDeployWorkflow):
    """``RegionDeployWorkflow``, subclassed and registered again, unchanged."""

    @workflow.run
    async def run(self, request: RegionDeployRequest) -> RegionResult:
        """The region deploy, unchanged."""
        return await super().run(request)
