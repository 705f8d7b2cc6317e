"""``ReleaseWorkflow``: build, then deploy region by region through child workflows.

The build is a ``BuildWorkflow`` child (``<release>/build``); each region is a
``RegionDeployWorkflow`` child (``<release>/region/<name>``) that takes every
zone to the new version together. Regions go one after another; the first
that fails or is rolled back stops the release, and the regions after it are
never touched.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ApplicationError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from ferryman.deploy.replace import derive_version, replace_options
    from ferryman.plan.models import RegionPlan, ReleasePlan
    from ferryman.temporal.deploy_models import RegionDeployRequest, RegionResult, ServiceRollout
    from ferryman.temporal.failures import failure_message
    from ferryman.temporal.models import (
        BuildRequest,
        BuildResult,
        ReleaseEvent,
        ReleaseProgress,
        ReleaseResult,
    )
    from ferryman.temporal.names import ENV, PHASE, SYSTEM, VERSION, build_id, region_deploy_id
    from ferryman.temporal.workflows.build import BuildWorkflow
    from ferryman.temporal.workflows.region import RegionDeployWorkflow


@workflow.defn(name="ferryman.Release")
class ReleaseWorkflow:
    """Interprets a ``ReleasePlan``: build, then deploy region by region."""

    def __init__(self) -> None:
        self._id = ""
        self._plan: ReleasePlan | None = None
        self._phase = "pending"
        self._version = ""
        self._nodes: dict[str, str] = {}
        self._regions: dict[str, str] = {}
        self._events: list[ReleaseEvent] = []
        self._routers: dict[str, str] = {}
        self._error = ""

    @workflow.query(name="progress")
    def progress(self) -> ReleaseProgress:
        """The live state of this release; each region's detail is its child's query."""
        plan = self._plan
        return ReleaseProgress(
            release_id=self._id,
            system=plan.system if plan else "",
            environment=plan.environment if plan else "",
            phase=self._phase,
            version=self._version,
            nodes=dict(self._nodes),
            regions=dict(self._regions),
            events=tuple(self._events),
            router_urls=dict(self._routers),
            error=self._error,
        )

    @workflow.run
    async def run(self, plan: ReleasePlan) -> ReleaseResult:
        """Build the plan, then deploy it; fails with a one-line reason."""
        self._id = workflow.info().workflow_id
        self._plan = plan
        self._nodes = {node.id: "pending" for node in plan.build.nodes}
        self._regions = {region.name: "pending" for region in plan.deploy.regions}
        workflow.upsert_search_attributes(
            [SYSTEM.value_set(plan.system), ENV.value_set(plan.environment)]
        )
        try:
            build = await self._build(plan)
            rollouts = self._rollouts(plan, build)
            self._set_phase("deploy")
            results = []
            for region in plan.deploy.regions:
                result = await self._deploy_region(plan, region, rollouts)
                results.append(result)
                if result.status == "rolled-back":
                    self._set_phase("rolled-back")
                    self._log(f"{region.name} rolled back: {result.reason}; release stopped")
                    return self._result("rolled-back", build)
        except ApplicationError as exc:
            self._error = exc.message
            self._set_phase("failed")
            self._log(f"release failed: {exc.message}")
            raise
        self._set_phase("done")
        self._log("release complete")
        unchanged = results and all(r.status == "unchanged" for r in results)
        return self._result("unchanged" if unchanged else "succeeded", build)

    def _result(self, status: str, build: BuildResult) -> ReleaseResult:
        return ReleaseResult(
            release_id=self._id,
            version=self._version,
            status=status,
            build=build,
            router_urls=dict(self._routers),
        )

    def _rollouts(self, plan: ReleasePlan, build: BuildResult) -> tuple[ServiceRollout, ...]:
        rollouts = []
        for service in plan.deploy.services:
            node = build.nodes[service.artifact_node]
            assert node.artifact is not None
            rollouts.append(
                ServiceRollout(
                    service=service,
                    version=plan.version or derive_version(node.commit),
                    artifact_digest=node.artifact.digest,
                    options=service.strategy or replace_options(service.health.timeout_s),
                )
            )
        self._version = plan.version or (rollouts[0].version if rollouts else "")
        if self._version:
            workflow.upsert_search_attributes([VERSION.value_set(self._version)])
        return tuple(rollouts)

    def _set_phase(self, phase: str) -> None:
        self._phase = phase
        workflow.upsert_search_attributes([PHASE.value_set(phase)])

    def _log(self, message: str) -> None:
        self._events.append(ReleaseEvent(at=workflow.now().isoformat(), message=message))

    async def _build(self, plan: ReleasePlan) -> BuildResult:
        self._set_phase("build")
        self._log(f"building {len(plan.build.nodes)} node(s)")
        self._nodes = {node.id: "running" for node in plan.build.nodes}
        build = await workflow.execute_child_workflow(
            BuildWorkflow.run,
            BuildRequest(run_id=self._id, plan=plan.build),
            id=build_id(self._id),
        )
        self._nodes = {node_id: node.status for node_id, node in build.nodes.items()}
        if not build.succeeded:
            reasons = "; ".join(
                f"{node.id} {node.status}: {node.error}"
                for node in build.nodes.values()
                if node.status != "succeeded"
            )
            raise ApplicationError(f"build failed: {reasons}", non_retryable=True)
        self._log("build succeeded")
        return build

    async def _deploy_region(
        self, plan: ReleasePlan, region: RegionPlan, rollouts: tuple[ServiceRollout, ...]
    ) -> RegionResult:
        self._regions[region.name] = "deploying"
        versions = ", ".join(f"{r.service.name} {r.version}" for r in rollouts)
        self._log(f"{region.name}: deploying {versions} to {len(region.zones)} zone(s)")
        try:
            result = await workflow.execute_child_workflow(
                RegionDeployWorkflow.run,
                RegionDeployRequest(
                    release_id=self._id,
                    platform=plan.deploy.platform,
                    region=region.name,
                    zones=region.zones,
                    services=rollouts,
                    region_queue_prefix=f"{workflow.info().task_queue}-region-",
                ),
                id=region_deploy_id(self._id, region.name),
            )
        except ChildWorkflowError as exc:
            self._regions[region.name] = "failed"
            raise ApplicationError(failure_message(exc), non_retryable=True) from exc
        self._regions[region.name] = result.status
        if result.router_url:
            self._routers[region.name] = result.router_url
        if result.status == "unchanged":
            self._log(f"{region.name}: {versions} already live, nothing to do")
        elif result.status == "succeeded":
            self._log(f"{region.name}: router serves {versions}")
        return result
