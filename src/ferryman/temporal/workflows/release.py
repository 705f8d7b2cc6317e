"""``ReleaseWorkflow``: build, then deploy every service to every region of an environment.

Level 1 strategy per region and service: record the current state, start the
new version in every zone concurrently, wait until all are healthy, switch the
region's router in one atomic swap, then retire the old version. If the new
version never becomes healthy, its instances are retired again and the old
routes were never touched: the old version kept serving throughout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from ferryman.deploy.replace import (
        all_traffic_to,
        derive_version,
        is_live,
        versions_to_retire,
    )
    from ferryman.plan.models import RegionPlan, ReleasePlan, ServicePlan
    from ferryman.providers.base import InstanceRequest
    from ferryman.temporal.activities.deploy import DeployActivities
    from ferryman.temporal.models import (
        BuildRequest,
        BuildResult,
        HealthInput,
        PrepareInput,
        ReleaseEvent,
        ReleaseProgress,
        ReleaseResult,
        RetireInput,
        StateInput,
        TrafficInput,
        ZoneStatus,
    )
    from ferryman.temporal.names import ENV, PHASE, SYSTEM, VERSION, build_id
    from ferryman.temporal.workflows.build import BuildWorkflow, failure_message

ArgT = TypeVar("ArgT")
ResultT = TypeVar("ResultT")

PROVIDER_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
)
CALL_TIMEOUT = timedelta(minutes=2)
CALL_DEADLINE = timedelta(minutes=10)
CALL_HEARTBEAT = timedelta(seconds=5)


@workflow.defn(name="ferryman.Release")
class ReleaseWorkflow:
    """Interprets a ``ReleasePlan``: build, then deploy region by region."""

    def __init__(self) -> None:
        self._id = ""
        self._plan: ReleasePlan | None = None
        self._phase = "pending"
        self._version = ""
        self._nodes: dict[str, str] = {}
        self._zones: dict[tuple[str, str, str], ZoneStatus] = {}
        self._events: list[ReleaseEvent] = []
        self._routers: dict[str, str] = {}
        self._error = ""

    @workflow.query(name="progress")
    def progress(self) -> ReleaseProgress:
        """The live state of this release."""
        plan = self._plan
        return ReleaseProgress(
            release_id=self._id,
            system=plan.system if plan else "",
            environment=plan.environment if plan else "",
            phase=self._phase,
            version=self._version,
            nodes=dict(self._nodes),
            zones=tuple(self._zones.values()),
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
        self._zones = {
            (region.name, zone, service.name): ZoneStatus(
                region=region.name, zone=zone, service=service.name
            )
            for region in plan.deploy.regions
            for zone in region.zones
            for service in plan.deploy.services
        }
        workflow.upsert_search_attributes(
            [SYSTEM.value_set(plan.system), ENV.value_set(plan.environment)]
        )
        try:
            build = await self._build(plan)
            versions = {
                service.name: plan.version
                or derive_version(build.nodes[service.artifact_node].commit)
                for service in plan.deploy.services
            }
            self._version = plan.version or next(iter(versions.values()), "")
            if self._version:
                workflow.upsert_search_attributes([VERSION.value_set(self._version)])
            self._set_phase("deploy")
            changed = False
            for region in plan.deploy.regions:
                for service in plan.deploy.services:
                    artifact = build.nodes[service.artifact_node].artifact
                    assert artifact is not None
                    changed |= await self._deploy(
                        plan, region, service, versions[service.name], artifact.digest
                    )
        except ApplicationError as exc:
            self._error = exc.message
            self._set_phase("failed")
            self._log(f"release failed: {exc.message}")
            raise
        self._set_phase("done")
        self._log("release complete")
        return ReleaseResult(
            release_id=self._id,
            version=self._version,
            status="succeeded" if changed or not plan.deploy.services else "unchanged",
            build=build,
            router_urls=dict(self._routers),
        )

    def _set_phase(self, phase: str) -> None:
        self._phase = phase
        workflow.upsert_search_attributes([PHASE.value_set(phase)])

    def _log(self, message: str) -> None:
        self._events.append(ReleaseEvent(at=workflow.now().isoformat(), message=message))

    def _zone(self, region: str, zone: str, service: str, status: str, version: str) -> None:
        self._zones[(region, zone, service)] = ZoneStatus(
            region=region, zone=zone, service=service, status=status, version=version
        )

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

    async def _deploy(
        self,
        plan: ReleasePlan,
        region: RegionPlan,
        service: ServicePlan,
        version: str,
        digest: str,
    ) -> bool:
        """Deploy one service to one region; returns False when it was already live."""
        platform = plan.deploy.platform
        key = f"{self._id}/{region.name}/{service.name}"
        before = await self._call(
            DeployActivities.service_state,
            StateInput(platform=platform, region=region.name, service=service.name),
            f"record state of {service.name} in {region.name}",
        )
        if is_live(before, version, region.zones):
            for zone in region.zones:
                self._zone(region.name, zone, service.name, "live", version)
            if before.router_url:
                self._routers[region.name] = before.router_url
            self._log(f"{service.name} {version} already live in {region.name}: nothing to do")
            return False
        self._log(
            f"{region.name}: starting {service.name} {version} in {len(region.zones)} zone(s)"
        )
        results = await asyncio.gather(
            *(
                self._start_zone(platform, key, region.name, zone, service, version, digest)
                for zone in region.zones
            ),
            return_exceptions=True,
        )
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            reason = failure_message(failures[0])
            self._log(f"{region.name}: {reason}; retiring {version}, old version keeps serving")
            await self._retire_all(
                platform,
                f"{key}/abort",
                region,
                service.name,
                {zone: [version] for zone in region.zones},
            )
            raise ApplicationError(f"{region.name}: {reason}", non_retryable=True)
        generation = await self._call(
            DeployActivities.set_traffic,
            TrafficInput(
                key=f"{key}/switch",
                platform=platform,
                region=region.name,
                routes=all_traffic_to(service.name, version),
            ),
            f"switch {region.name} router: {service.name} → {version}",
        )
        self._log(
            f"{region.name}: router serves {service.name} {version} (generation {generation})"
        )
        for zone in region.zones:
            self._zone(region.name, zone, service.name, "live", version)
        await self._retire_all(
            platform, f"{key}/retire", region, service.name, versions_to_retire(before, version)
        )
        after = await self._call(
            DeployActivities.service_state,
            StateInput(platform=platform, region=region.name, service=service.name),
            f"read state of {service.name} in {region.name}",
        )
        if after.router_url:
            self._routers[region.name] = after.router_url
        return True

    def _call(
        self,
        activity: Callable[[DeployActivities, ArgT], Awaitable[ResultT]],
        arg: ArgT,
        summary: str,
    ) -> Awaitable[ResultT]:
        """Run a provider activity with ferryman's timeouts and retries."""
        return workflow.execute_activity_method(
            activity,
            arg,
            start_to_close_timeout=CALL_TIMEOUT,
            schedule_to_close_timeout=CALL_DEADLINE,
            heartbeat_timeout=CALL_HEARTBEAT,
            retry_policy=PROVIDER_RETRY,
            summary=summary,
        )

    async def _start_zone(
        self,
        platform: str,
        key: str,
        region: str,
        zone: str,
        service: ServicePlan,
        version: str,
        digest: str,
    ) -> None:
        self._zone(region, zone, service.name, "starting", version)
        await self._call(
            DeployActivities.prepare_zone,
            PrepareInput(
                key=f"{key}/{zone}/prepare",
                platform=platform,
                artifact_digest=digest,
                request=InstanceRequest(
                    region=region,
                    zone=zone,
                    service=service.name,
                    version=version,
                    artifact_dir="",
                    command=service.command,
                    env=service.env,
                    replicas=service.replicas,
                    health_path=service.health.path,
                    health_status=service.health.status,
                ),
            ),
            f"start {service.name} {version} ×{service.replicas} in {region}/{zone}",
        )
        self._zone(region, zone, service.name, "health-check", version)
        try:
            await workflow.execute_activity_method(
                DeployActivities.await_healthy,
                HealthInput(
                    platform=platform,
                    region=region,
                    zone=zone,
                    service=service.name,
                    version=version,
                    timeout_s=service.health.timeout_s,
                    interval_s=service.health.interval_s,
                ),
                retry_policy=PROVIDER_RETRY,
                start_to_close_timeout=timedelta(seconds=service.health.timeout_s + 30),
                heartbeat_timeout=timedelta(seconds=5),
                summary=f"health-check {service.name} {version} in {region}/{zone}",
            )
        except ActivityError:
            self._zone(region, zone, service.name, "unhealthy", version)
            raise
        self._zone(region, zone, service.name, "ready", version)

    async def _retire_all(
        self,
        platform: str,
        key: str,
        region: RegionPlan,
        service: str,
        retire: dict[str, list[str]],
    ) -> None:
        calls = [
            self._call(
                DeployActivities.retire,
                RetireInput(
                    key=f"{key}/{zone}/{version}",
                    platform=platform,
                    region=region.name,
                    zone=zone,
                    service=service,
                    version=version,
                ),
                f"retire {service} {version} in {region.name}/{zone}",
            )
            for zone, versions in retire.items()
            for version in versions
        ]
        if calls:
            await asyncio.gather(*calls)
            retired = sorted({version for versions in retire.values() for version in versions})
            self._log(f"{region.name}: retired {', '.join(retired)}")
