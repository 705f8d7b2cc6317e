"""``RegionDeployWorkflow``: one region, every zone at once, one switch (levels 3 and 5).

For each service it records the region's state, then interprets the blue-green
steps from ``ferryman.deploy.bluegreen``: start the new colour in every zone
concurrently, wait at a barrier until all zones are healthy, optionally preview
and smoke-test it, hold for promotion if asked, move traffic in atomic route
swaps, keep the old colour warm, and retire it. Any failure, or a ``rollback``
Update, restores the recorded route table and retires the new colour, so a
region never ends with zones on different versions.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from ferryman.deploy.bluegreen import (
        AwaitHealthy,
        AwaitPromotion,
        BlueGreenOptions,
        KeepWarm,
        Pause,
        Prepare,
        Preview,
        Recorded,
        Retire,
        SetWeights,
        Smoke,
        Step,
        blue_green_steps,
        rollback_steps,
    )
    from ferryman.deploy.replace import is_live
    from ferryman.providers.base import InstanceRequest, RouteRule, RouteTable, ServiceState
    from ferryman.temporal.activities.deploy import DeployActivities
    from ferryman.temporal.deploy_models import (
        Decision,
        EnsureRegionsInput,
        RegionDeployRequest,
        RegionProgress,
        RegionResult,
        ServiceRollout,
        ServiceView,
        SmokeInput,
        ZoneView,
    )
    from ferryman.temporal.failures import failure_message
    from ferryman.temporal.models import (
        HealthInput,
        PrepareInput,
        RetireInput,
        StateInput,
        TrafficInput,
    )
    from ferryman.temporal.names import region_task_queue
    from ferryman.temporal.region_workers import RegionWorkers

ArgT = TypeVar("ArgT")
ResultT = TypeVar("ResultT")

PROVIDER_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
)
FINISHED = {"done", "rolled-back", "failed", "unchanged"}


def has_gate(options: BlueGreenOptions) -> bool:
    """Whether a deploy with these options holds for promotion or pauses between steps."""
    return not options.auto_promote or (options.pause_s > 0 and len(options.traffic_steps) > 1)


class RollbackRequested(Exception):
    """Raised inside the workflow when a rollback Update interrupts the steps."""


@workflow.defn(name="ferryman.RegionDeploy")
class RegionDeployWorkflow:
    """Deploys every service of a release to one region, zones in lockstep."""

    def __init__(self) -> None:
        self._request: RegionDeployRequest | None = None
        self._queue = ""
        self._phase = "pending"
        self._views: dict[str, ServiceView] = {}
        self._router_url = ""
        self._promotion: Decision | None = None
        self._current: ServiceRollout | None = None
        self._ahead: list[Step] | None = None
        self._later: list[ServiceRollout] = []
        self._rollback: Decision | None = None

    # --- humans: Updates with validators, and a query -------------------------------------

    @workflow.query(name="progress")
    def progress(self) -> RegionProgress:
        """Where this region's deploy stands, per service and zone."""
        region = self._request.region if self._request else ""
        return RegionProgress(
            region=region,
            phase=self._phase,
            services=tuple(self._views.values()),
            router_url=self._router_url,
        )

    @workflow.update(name="promote")
    def promote(self, decision: Decision) -> str:
        """Release a held promotion (or skip the remaining pauses)."""
        self._promotion = decision
        return f"{self._region}: promoted by {decision.by}"

    @promote.validator
    def _check_promote(self, decision: Decision) -> None:
        # Judged on the steps still ahead, not on the phase alone: a fresh worker may run
        # this validator before it applies the events that bring the deploy to its gate.
        if self._phase in FINISHED or not self._gate_ahead():
            raise ValueError(f"{self._region} is not waiting for promotion (phase {self._phase})")
        if self._promotion is not None:
            raise ValueError(f"{self._region} was already promoted by {self._promotion.by}")

    def _gate_ahead(self) -> bool:
        """Whether a held promotion or a pause is still to come in this region's deploy."""
        if self._ahead is not None:
            current = any(isinstance(step, AwaitPromotion | Pause) for step in self._ahead)
        else:
            current = self._current is not None and has_gate(self._current.options)
        return current or any(has_gate(rollout.options) for rollout in self._later)

    @workflow.update(name="rollback")
    async def rollback(self, decision: Decision) -> str:
        """Restore the recorded state of the region; answers once it is restored."""
        self._rollback = decision
        await workflow.wait_condition(lambda: self._phase in FINISHED)
        return f"{self._region}: {self._phase} (asked by {decision.by})"

    @rollback.validator
    def _check_rollback(self, decision: Decision) -> None:
        if self._phase in FINISHED:
            raise ValueError(
                f"{self._region} already finished ({self._phase}); release the previous "
                "version to go back"
            )

    @property
    def _region(self) -> str:
        return self._request.region if self._request else "region"

    # --- the run ------------------------------------------------------------------------

    @workflow.run
    async def run(self, request: RegionDeployRequest) -> RegionResult:
        """Deploy each service in turn; roll back and fail on the first failure."""
        self._request = request
        self._queue = region_task_queue(request.region, request.region_queue_prefix)
        self._later = list(request.services)
        for rollout in request.services:
            self._views[rollout.service.name] = ServiceView(
                service=rollout.service.name,
                version=rollout.version,
                phase="pending",
                zones=tuple(ZoneView(zone=z, status="pending") for z in request.zones),
            )
        if request.start_region_workers:
            await workflow.execute_activity_method(
                RegionWorkers.ensure_activity,
                EnsureRegionsInput(regions=(request.region,)),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=PROVIDER_RETRY,
                summary=f"serve task queue {self._queue}",
            )
        outcomes: list[str] = []
        for index, rollout in enumerate(request.services):
            self._current, self._ahead = rollout, None
            self._later = list(request.services[index + 1 :])
            outcomes.append(await self._deploy_service(request, rollout))
            self._current, self._ahead = None, []
        if "rolled-back" in outcomes:
            status = "rolled-back"
        elif all(outcome == "unchanged" for outcome in outcomes):
            status = "unchanged"
        else:
            status = "succeeded"
        self._phase = "done" if status != "rolled-back" else "rolled-back"
        return RegionResult(
            region=request.region,
            status=status,
            versions={r.service.name: r.version for r in request.services},
            router_url=self._router_url,
            reason=self._rollback.reason if self._rollback else "",
        )

    async def _deploy_service(self, request: RegionDeployRequest, rollout: ServiceRollout) -> str:
        name, new = rollout.service.name, rollout.version
        self._set(name, phase="recording")
        before = await self._state(name)
        if is_live(before, new, request.zones):
            self._set(name, phase="live", weights={new: 100})
            self._zones(name, "live", before)
            return "unchanged"
        recorded = Recorded(
            weights=dict(before.routes.weights) if before.routes else {},
            versions=frozenset(
                v for versions in before.versions_by_zone.values() for v in versions
            ),
        )
        old = max(recorded.weights, key=lambda v: recorded.weights[v]) if recorded.weights else None
        steps = blue_green_steps(rollout.options, old if old != new else None, new)
        done: list[Step] = []
        self._ahead = list(steps)
        try:
            for index, step in enumerate(steps):
                if self._rollback is not None:
                    raise RollbackRequested
                self._set(name, step=step.kind)
                await self._interruptible(self._execute(request, rollout, index, step))
                done.append(step)
                self._ahead = steps[index + 1 :]
        except (ActivityError, ApplicationError, RollbackRequested) as exc:
            reason = (
                f"rollback asked by {self._rollback.by}"
                if isinstance(exc, RollbackRequested) and self._rollback
                else failure_message(exc)
            )
            self._set(name, phase="rolling-back", error=reason)
            self._phase = "rolling-back"
            await asyncio.shield(self._restore(request, rollout, recorded, done))
            self._set(name, phase="rolled-back")
            self._zones(name, "rolled-back", await self._state(name))
            if isinstance(exc, RollbackRequested):
                return "rolled-back"
            self._phase = "failed"
            raise ApplicationError(f"{request.region}: {reason}", non_retryable=True) from exc
        after = await self._state(name)
        self._check_no_skew(request, name, after, new)
        self._set(name, phase="live")
        self._zones(name, "live", after)
        return "succeeded"

    async def _interruptible(self, work: Awaitable[None]) -> None:
        """Run a step, abandoning it (with cancellation) if a rollback is asked meanwhile."""
        task = asyncio.ensure_future(work)
        await workflow.wait_condition(lambda: task.done() or self._rollback is not None)
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ActivityError):
                await task
            raise RollbackRequested
        task.result()

    # --- steps ----------------------------------------------------------------------------

    async def _execute(
        self, request: RegionDeployRequest, rollout: ServiceRollout, index: int, step: Step
    ) -> None:
        name = rollout.service.name
        key = f"{request.release_id}/{request.region}/{name}"
        if isinstance(step, Prepare):
            self._set(name, phase="preparing")
            await self._each_zone(request, lambda zone: self._prepare(request, rollout, zone, key))
        elif isinstance(step, AwaitHealthy):
            self._set(name, phase="barrier")
            await self._each_zone(request, lambda zone: self._healthy(request, rollout, zone, step))
        elif isinstance(step, Preview):
            self._set(name, phase="preview")
            rule = RouteRule(
                version=step.version,
                header=step.match.header,
                cookie=step.match.cookie,
                equals=step.match.value,
            )
            table = RouteTable(service=name, weights={step.stable: 100}, rules=(rule,))
            await self._route(request, table, f"{key}/routes/{index}")
        elif isinstance(step, Smoke):
            self._set(name, phase="smoke")
            await self._call(
                DeployActivities.smoke,
                SmokeInput(
                    platform=request.platform,
                    region=request.region,
                    service=name,
                    version=step.version,
                    checks=step.checks,
                    match=step.match,
                ),
                f"smoke-test {name} {step.version} in {request.region}",
            )
        elif isinstance(step, AwaitPromotion):
            self._set(name, phase="awaiting-promotion")
            self._phase = "awaiting-promotion"
            await workflow.wait_condition(
                lambda: self._promotion is not None or self._rollback is not None
            )
            self._phase = "deploying"
        elif isinstance(step, SetWeights):
            self._set(name, phase="shifting")
            await self._route(
                request, RouteTable(service=name, weights=step.weights), f"{key}/routes/{index}"
            )
            self._set(name, weights=step.weights)
        elif isinstance(step, Pause):
            self._set(name, phase="paused")
            self._phase = "paused"
            await self._wait(step.seconds, allow_promotion=True)
            self._phase = "deploying"
        elif isinstance(step, KeepWarm):
            self._set(name, phase="keep-warm")
            await self._wait(step.seconds, allow_promotion=False)
        elif isinstance(step, Retire):
            self._set(name, phase="retiring")
            await self._retire_everywhere(request, name, step.version, key)

    async def _wait(self, seconds: float, allow_promotion: bool) -> None:
        def interrupted() -> bool:
            return self._rollback is not None or (allow_promotion and self._promotion is not None)

        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(interrupted, timeout=timedelta(seconds=seconds))

    async def _restore(
        self,
        request: RegionDeployRequest,
        rollout: ServiceRollout,
        recorded: Recorded,
        done: list[Step],
    ) -> None:
        name = rollout.service.name
        key = f"{request.release_id}/{request.region}/{name}/rollback"
        for index, step in enumerate(rollback_steps(recorded, rollout.version, done)):
            if isinstance(step, SetWeights):
                table = RouteTable(service=name, weights=step.weights)
                await self._route(request, table, f"{key}/routes/{index}")
            elif isinstance(step, Retire):
                await self._retire_everywhere(request, name, step.version, key)

    def _check_no_skew(
        self, request: RegionDeployRequest, name: str, state: ServiceState, version: str
    ) -> None:
        skewed = {z: v for z in request.zones if (v := state.versions_by_zone.get(z)) != [version]}
        if skewed:
            raise ApplicationError(
                f"{request.region}: zones left on other versions after the switch: {skewed}",
                non_retryable=True,
            )

    # --- activities -------------------------------------------------------------------------

    async def _each_zone(
        self, request: RegionDeployRequest, work: Callable[[str], Awaitable[None]]
    ) -> None:
        results = await asyncio.gather(
            *(work(zone) for zone in request.zones), return_exceptions=True
        )
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            raise failures[0]

    async def _prepare(
        self, request: RegionDeployRequest, rollout: ServiceRollout, zone: str, key: str
    ) -> None:
        service = rollout.service
        self._zone(service.name, zone, "starting")
        await self._call(
            DeployActivities.prepare_zone,
            PrepareInput(
                key=f"{key}/{zone}/prepare/{rollout.version}",
                platform=request.platform,
                artifact_digest=rollout.artifact_digest,
                request=InstanceRequest(
                    region=request.region,
                    zone=zone,
                    service=service.name,
                    version=rollout.version,
                    artifact_dir="",
                    command=service.command,
                    env=service.env,
                    replicas=service.replicas,
                    health_path=service.health.path,
                    health_status=service.health.status,
                ),
            ),
            f"start {service.name} {rollout.version} ×{service.replicas} "
            f"in {request.region}/{zone}",
        )
        self._zone(service.name, zone, "started")

    async def _healthy(
        self, request: RegionDeployRequest, rollout: ServiceRollout, zone: str, step: AwaitHealthy
    ) -> None:
        service = rollout.service
        try:
            await workflow.execute_activity_method(
                DeployActivities.await_healthy,
                HealthInput(
                    platform=request.platform,
                    region=request.region,
                    zone=zone,
                    service=service.name,
                    version=step.version,
                    timeout_s=step.deadline_s,
                    interval_s=service.health.interval_s,
                ),
                task_queue=self._queue,
                retry_policy=PROVIDER_RETRY,
                start_to_close_timeout=timedelta(seconds=step.deadline_s + 30),
                heartbeat_timeout=timedelta(seconds=5),
                summary=f"barrier: {service.name} {step.version} healthy "
                f"in {request.region}/{zone}",
            )
        except ActivityError:
            self._zone(service.name, zone, "unhealthy")
            raise
        self._zone(service.name, zone, "healthy")

    async def _route(self, request: RegionDeployRequest, table: RouteTable, key: str) -> None:
        weights = ", ".join(f"{v} {w}%" for v, w in table.weights.items())
        rules = f" + {len(table.rules)} rule(s)" if table.rules else ""
        await self._call(
            DeployActivities.set_traffic,
            TrafficInput(key=key, platform=request.platform, region=request.region, routes=table),
            f"route {request.region} {table.service}: {weights}{rules}",
        )

    async def _retire_everywhere(
        self, request: RegionDeployRequest, service: str, version: str, key: str
    ) -> None:
        await self._each_zone(
            request, lambda zone: self._retire(request, service, zone, version, key)
        )

    async def _retire(
        self, request: RegionDeployRequest, service: str, zone: str, version: str, key: str
    ) -> None:
        await self._call(
            DeployActivities.retire,
            RetireInput(
                key=f"{key}/{zone}/retire/{version}",
                platform=request.platform,
                region=request.region,
                zone=zone,
                service=service,
                version=version,
            ),
            f"retire {service} {version} in {request.region}/{zone}",
        )

    async def _state(self, service: str) -> ServiceState:
        assert self._request is not None
        state = await self._call(
            DeployActivities.service_state,
            StateInput(
                platform=self._request.platform, region=self._request.region, service=service
            ),
            f"record {service} in {self._request.region}",
        )
        if state.router_url:
            self._router_url = state.router_url
        return state

    def _call(
        self,
        activity: Callable[[DeployActivities, ArgT], Awaitable[ResultT]],
        arg: ArgT,
        summary: str,
    ) -> Awaitable[ResultT]:
        return workflow.execute_activity_method(
            activity,
            arg,
            task_queue=self._queue,
            start_to_close_timeout=timedelta(minutes=2),
            schedule_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=timedelta(seconds=5),
            retry_policy=PROVIDER_RETRY,
            summary=summary,
        )

    # --- views ------------------------------------------------------------------------------

    def _set(self, service: str, **changes: object) -> None:
        self._views[service] = self._views[service].model_copy(update=changes)

    def _zone(self, service: str, zone: str, status: str) -> None:
        view = self._views[service]
        zones = tuple(
            z.model_copy(update={"status": status}) if z.zone == zone else z for z in view.zones
        )
        self._views[service] = view.model_copy(update={"zones": zones})

    def _zones(self, service: str, status: str, state: ServiceState) -> None:
        view = self._views[service]
        zones = tuple(
            ZoneView(
                zone=z.zone, status=status, versions=tuple(state.versions_by_zone.get(z.zone, []))
            )
            for z in view.zones
        )
        weights = dict(state.routes.weights) if state.routes else {}
        self._views[service] = view.model_copy(update={"zones": zones, "weights": weights})
