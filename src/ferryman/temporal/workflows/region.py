"""``RegionDeployWorkflow``: one region, every zone at once, one switch (levels 3 and 5).

It interprets the steps of ``ferryman.deploy`` by their type alone, in one of
three actions:

- ``switch``: record every service's state, ask each service's strategy for its
  steps, and carry out the switch steps service after service (start the new
  version in every zone at once, barrier, preview, smoke, hold, move traffic).
  The old versions stay warm. If anything fails, or the workflow is cancelled
  (which is how a release rolls a region back), every service it touched is
  put back as recorded, the last one first.
- ``finalize``: retire what the switch left warm, once the release commits.
- ``restore``: put back what the switch recorded (the release's compensation).

Every provider call carries a key ``<release>/<region>/<service>/<action>/<step>``,
so a replayed or retried activity repeats no side effect.

A held promotion is an approval gate (``ferryman.temporal.workflows.gates``)
under the environment's ``promotion`` policy (without one, anyone may
promote): the ``decide`` Update (or its short form ``promote``) passes or
rejects it; a rejection puts the region back and fails it with a
``GateRejected`` error the release recognises.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from ferryman.approvals.audit import AuditEvent
    from ferryman.approvals.policy import GateDecision, describe_close
    from ferryman.deploy import strategies
    from ferryman.deploy.steps import (
        HOLDS,
        AwaitHealthy,
        AwaitPromotion,
        KeepWarm,
        Pause,
        Prepare,
        Recorded,
        Retire,
        Rollout,
        SetRoutes,
        Smoke,
        Step,
        Target,
        describe,
        restore_steps,
        skew,
    )
    from ferryman.plan.models import GatePlan
    from ferryman.platform.models import InstanceRequest, Launch, RouteTable, ServiceState
    from ferryman.temporal.activities.deploy import DeployActivities
    from ferryman.temporal.failures import failure_message
    from ferryman.temporal.models.analysis import AnalysisView
    from ferryman.temporal.models.region import (
        ArtifactCheck,
        Decision,
        HealthInput,
        PrepareInput,
        RegionDeployRequest,
        RegionPhase,
        RegionProgress,
        RegionResult,
        RetireInput,
        ServiceOutcome,
        ServiceRollout,
        ServiceView,
        SmokeInput,
        StateInput,
        VerifyInput,
        ZoneStatus,
        ZoneView,
    )
    from ferryman.temporal.names import PHASE, region_task_queue
    from ferryman.temporal.workflows import switching
    from ferryman.temporal.workflows.analysis import PROGRESSIVE, Progressive
    from ferryman.temporal.workflows.custom_steps import RegionSteps
    from ferryman.temporal.workflows.gates import GateKeeper, rejected_error
    from ferryman.temporal.workflows.saga import announce_routes_back, routes_back_at, settle

ArgT = TypeVar("ArgT")
ResultT = TypeVar("ResultT")

PROVIDER_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
)
FINISHED: frozenset[RegionPhase] = frozenset({"done", "failed"})
VERIFY_PATCH = "verify-artifacts"
"""Region deploys started before artifacts were verified replay without the check."""
OPEN_PROMOTION = GatePlan(name="promotion", at="promotion", allow_self_approval=True)
"""A held promotion no policy covers: anyone may promote."""


def target_of(rollout: ServiceRollout, zones: tuple[str, ...]) -> Target:
    """The version a service is taken to, with what it takes to start it."""
    service = rollout.service
    return Target(
        service=service.name,
        version=rollout.version,
        launch=Launch(
            artifact_digest=rollout.artifact_digest,
            command=service.command,
            env=service.env,
            secrets=service.secrets,
            replicas=service.replicas,
            health_path=service.health.path,
            health_status=service.health.status,
        ),
        zones=zones,
        health_timeout_s=service.health.timeout_s,
        health_interval_s=service.health.interval_s,
    )


@workflow.defn(name="ferryman.RegionDeploy")
class RegionDeployWorkflow:
    """Switches, finalizes or restores every service of a release in one region."""

    def __init__(self) -> None:
        self._request: RegionDeployRequest | None = None
        self._queue = ""
        self._phase: RegionPhase = "pending"
        self._views: dict[str, ServiceView] = {}
        self._router_url = ""
        self._planned = False
        self._ahead: list[Step] = []
        self._progressive = Progressive(self)
        self._gates = GateKeeper()
        self._gate = OPEN_PROMOTION
        self._custom = RegionSteps()

    # --- humans: an Update with a validator, and a query ------------------------------------

    @workflow.query(name="progress")
    def progress(self) -> RegionProgress:
        """Where this region's deploy stands, per service and zone."""
        request = self._request
        return RegionProgress(
            region=request.region if request else "",
            action=request.action if request else "switch",
            phase=self._phase,
            services=tuple(self._views.values()),
            router_url=self._router_url,
        )

    @workflow.query(name="analysis")
    def analysis(self) -> AnalysisView:
        """Every canary-analysis and experiment judgement so far, oldest first."""
        return self._progressive.view(self._region)

    @workflow.update(name="promote")
    def promote(self, decision: Decision) -> str:
        """Approve the held promotion (and skip the remaining pauses): ``decide``'s short form."""
        answer = self._gates.decide(self._approval(decision), early=True)
        if self._promoted:
            return f"{self._region}: promoted by {decision.by}"
        return answer

    @promote.validator
    def _check_promote(self, decision: Decision) -> None:
        self._check_hold()
        self._gates.validate(self._approval(decision), early=True)

    @workflow.update
    def decide(self, decision: GateDecision) -> str:
        """Approve or reject the promotion gate (the validator applies its policy)."""
        return self._gates.decide(decision, early=True)

    @decide.validator
    def _check_decide(self, decision: GateDecision) -> None:
        self._check_hold()
        self._gates.validate(decision, early=True)

    @workflow.query
    def audit(self) -> tuple[AuditEvent, ...]:
        """Every event of this region's promotion gate."""
        return self._gates.audit()

    def _check_hold(self) -> None:
        # Judged on the steps still ahead, not on the phase alone: a fresh worker may run
        # this validator before it applies the events that bring the deploy to its hold.
        holds = any(isinstance(step, HOLDS) for step in self._ahead)
        if self._phase in FINISHED or (self._planned and not holds):
            raise ValueError(f"{self._region} is not waiting for promotion (phase {self._phase})")
        state = self._gates.state(self._gate.name)
        if state.status == "approved":
            raise ValueError(f"{self._region} was already promoted by {', '.join(state.approvals)}")

    def _approval(self, decision: Decision) -> GateDecision:
        return GateDecision(
            gate=self._gate.name,
            verdict="approve",
            user=decision.by,
            comment=decision.reason,
            channel="promote",
        )

    @property
    def _promoted(self) -> bool:
        return self._gates.state(self._gate.name).status == "approved"

    def _promotion_pending(self) -> bool:
        """Whether the promotion gate was approved (or rejected) and not used yet."""
        return self._gates.state(self._gate.name).closed

    def _take_promotion(self) -> Decision | None:
        """The approved promotion, used up: the next hold needs an approval of its own.

        Raises:
            ApplicationError: The promotion gate was rejected.
        """
        self._check_not_rejected()
        state = self._gates.state(self._gate.name)
        if state.status != "approved":
            return None
        ballots = [b for b in state.ballots if b.verdict == "approve"]
        reason = ballots[-1].comment if ballots else ""
        self._gates.reopen(self._gate.name)
        return Decision(by=", ".join(state.approvals), reason=reason)

    @property
    def _region(self) -> str:
        return self._request.region if self._request else "region"

    # --- the run ------------------------------------------------------------------------------

    @workflow.run
    async def run(self, request: RegionDeployRequest) -> RegionResult:
        """Carry out ``request.action``; on a failed switch, restore and fail."""
        self._request = request
        self._queue = region_task_queue(request.region, workflow.info().task_queue)
        self._phase = "deploying"
        self._gate = request.promotion_gate or OPEN_PROMOTION
        self._custom.setup(request, self._queue)
        self._gates.setup(
            [self._gate],
            release_id=request.release_id,
            requested_by=request.requested_by,
            environment=request.environment,
            region=request.region,
        )
        try:
            if request.action == "switch":
                result = await self._switch(request)
            else:
                result = await self._follow_up(request)
        except BaseException:
            self._phase = "failed"
            raise
        self._phase = "done"
        await workflow.wait_condition(workflow.all_handlers_finished)
        return result

    async def _switch(self, request: RegionDeployRequest) -> RegionResult:
        targets = [target_of(rollout, request.zones) for rollout in request.services]
        for target in targets:
            self._view(target, "recording")
        states = await asyncio.gather(*(self._state(target.service) for target in targets))
        recorded = [Recorded.of(state) for state in states]
        rollouts: list[Rollout] = [
            strategies.rollout(r.service.strategy, rec, target)
            for r, rec, target in zip(request.services, recorded, targets, strict=True)
        ]
        if workflow.patched(VERIFY_PATCH):
            await self._verify(targets, rollouts)
        self._ahead = [step for rollout in rollouts for step in rollout.switch]
        self._planned = True
        attempted: list[list[Step]] = []
        if all(rollout.unchanged for rollout in rollouts):
            self._custom.skip()
        try:
            await self._custom.run_point("before-region")
            for index, (target, rollout) in enumerate(zip(targets, rollouts, strict=True)):
                steps: list[Step] = []
                attempted.append(steps)
                if rollout.unchanged:
                    self._set(target.service, phase="unchanged", weights={target.version: 100})
                    self._zones(target.service, "live", states[index])
                    continue
                await self._run_steps(target, rollout.switch, "switch", steps)
                after = await self._state(target.service)
                problem = skew(after, target)
                if problem:
                    raise ApplicationError(problem, non_retryable=True)
                self._set(target.service, phase="switched", step="")
                self._zones(target.service, "live", after)
            await self._custom.run_point("after-region")
            if request.finalize_now:
                for target, rollout, steps in zip(targets, rollouts, attempted, strict=True):
                    await self._run_steps(target, rollout.finalize, "finalize", steps)
                    if rollout.finalize:
                        self._set(target.service, phase="finalized", step="")
        except (ActivityError, ApplicationError, asyncio.CancelledError) as exc:
            reason = (
                "cancelled" if isinstance(exc, asyncio.CancelledError) else failure_message(exc)
            )
            self._phase = "rolling-back"
            done = list(zip(targets, recorded, attempted, strict=False))
            await settle(self._custom.undo(self._custom.records, after_switch=True))
            await settle(self._restore_all(done, reason))
            await settle(self._custom.undo(self._custom.records, after_switch=False))
            if isinstance(exc, asyncio.CancelledError):
                raise
            kind = exc.type if isinstance(exc, ApplicationError) else None
            raise ApplicationError(
                f"{request.region}: {reason}", type=kind, non_retryable=True
            ) from exc
        finalized = request.finalize_now
        outcomes = [
            ServiceOutcome(
                service=target.service,
                status="unchanged"
                if rollout.unchanged
                else ("finalized" if finalized else "switched"),
                target=target,
                recorded=rec,
                done=tuple(steps),
                finalize=() if finalized else rollout.finalize,
            )
            for target, rec, rollout, steps in zip(
                targets, recorded, rollouts, attempted, strict=True
            )
        ]
        unchanged = all(r.unchanged for r in rollouts)
        return RegionResult(
            region=request.region,
            status="unchanged" if unchanged else ("finalized" if finalized else "switched"),
            services=tuple(outcomes),
            router_url=self._router_url,
            steps=self._custom.records,
        )

    async def _verify(self, targets: Sequence[Target], rollouts: Sequence[Rollout]) -> None:
        """Refuse the switch, before anything changes, unless every new artifact verifies.

        Raises:
            ApplicationError: ``ArtifactRejected`` with the one-line reason.
        """
        changing = [t for t, r in zip(targets, rollouts, strict=True) if not r.unchanged]
        if not changing:
            return
        checks = tuple(
            ArtifactCheck(service=t.service, version=t.version, digest=t.launch.artifact_digest)
            for t in changing
        )
        for target in changing:
            self._set(target.service, step="verify artifact and provenance")
        names = ", ".join(f"{t.service} {t.version}" for t in changing)
        try:
            await self._call(
                DeployActivities.verify_artifacts,
                VerifyInput(**self._where(), region=self._region, artifacts=checks),
                f"verify artifact and signed provenance of {names} in {self._region}",
            )
        except ActivityError as exc:
            reason = failure_message(exc)
            for target in changing:
                self._set(target.service, phase="unchanged", step="", error=reason)
            kind = exc.cause.type if isinstance(exc.cause, ApplicationError) else None
            raise ApplicationError(
                f"{self._region}: {reason}", type=kind, non_retryable=True
            ) from exc
        for target in changing:
            self._set(target.service, step="")

    async def _follow_up(self, request: RegionDeployRequest) -> RegionResult:
        previous = request.previous
        if previous is None:
            raise ApplicationError(
                f"{request.action} needs the switch's result", non_retryable=True
            )
        for outcome in previous.services:
            self._view(outcome.target, "pending")
        if request.action == "finalize":
            for outcome in previous.services:
                self._live(outcome.target, outcome.recorded.versions_by_zone)
            return await self._finalize(previous)
        restored = []
        await self._custom.undo(previous.steps, after_switch=True)
        # Every service's users first (routes back, last service first), then the cleanups.
        plans = [
            (outcome, restore_steps(outcome.recorded, outcome.target, outcome.done))
            for outcome in reversed(previous.services)
        ]
        for outcome, steps in plans:
            await self._run_steps(outcome.target, steps[: routes_back_at(steps)], "restore", [])
        await announce_routes_back(self._region)
        for outcome, steps in plans:
            cut = routes_back_at(steps)
            await self._run_steps(outcome.target, steps[cut:], "restore", [], first=cut)
            self._set(outcome.service, phase="restored", step="")
            self._zones(outcome.service, "restored", await self._state(outcome.service))
            restored.append(outcome.model_copy(update={"status": "restored", "finalize": ()}))
        await self._custom.undo(previous.steps, after_switch=False)
        return previous.model_copy(
            update={"status": "restored", "services": tuple(reversed(restored)), "steps": ()}
        )

    async def _finalize(self, result: RegionResult) -> RegionResult:
        outcomes = []
        for outcome in result.services:
            steps: list[Step] = []
            await self._run_steps(outcome.target, outcome.finalize, "finalize", steps)
            self._live(outcome.target, {})
            self._set(outcome.service, phase="finalized", step="")
            outcomes.append(
                outcome.model_copy(
                    update={
                        "status": "finalized" if outcome.status == "switched" else outcome.status,
                        "done": (*outcome.done, *steps),
                        "finalize": (),
                    }
                )
            )
        status = "finalized" if result.status == "switched" else result.status
        return result.model_copy(update={"status": status, "services": tuple(outcomes)})

    async def _restore_all(
        self, done: Sequence[tuple[Target, Recorded, list[Step]]], reason: str
    ) -> None:
        # Every service's users first (routes back, last service first), then the cleanups.
        plans = [
            (target, restore_steps(recorded, target, attempted))
            for target, recorded, attempted in reversed(done)
        ]
        for target, steps in plans:
            self._set(target.service, phase="rolling-back", error=reason)
            await self._run_steps(target, steps[: routes_back_at(steps)], "rollback", [])
        for target, steps in plans:
            cut = routes_back_at(steps)
            await self._run_steps(target, steps[cut:], "rollback", [], first=cut)
            self._set(target.service, phase="rolled-back", step="")
            self._zones(target.service, "rolled-back", await self._state(target.service))

    # --- steps ----------------------------------------------------------------------------------

    async def _run_steps(
        self,
        target: Target,
        steps: Sequence[Step],
        action: str,
        attempted: list[Step],
        first: int = 0,
    ) -> None:
        """Carry out ``steps`` in order, appending each to ``attempted`` as it begins.

        ``first`` is the index of ``steps[0]`` in its action's step list (its key).
        """
        assert self._request is not None
        request = self._request
        attempt = f".{request.attempt}" if request.attempt else ""
        key = f"{request.release_id}/{request.region}/{target.service}/{action}{attempt}"
        for index, step in enumerate(steps, start=first):
            if action == "switch":
                await self._custom.before(step, target.version)
            attempted.append(step)
            self._set(target.service, phase=step.kind, step=describe(step))
            await self._execute(target, step, f"{key}/{index}")
            if step in self._ahead:
                self._ahead.remove(step)

    async def _execute(self, target: Target, step: Step, key: str) -> None:
        service = target.service
        if isinstance(step, Prepare):
            await self._each_zone(lambda zone: self._prepare(service, step, zone, f"{key}/{zone}"))
        elif isinstance(step, AwaitHealthy):
            await self._each_zone(lambda zone: self._healthy(service, step, zone))
        elif isinstance(step, SetRoutes):
            await self._route(step.routes, key)
            self._set(service, weights=dict(step.routes.weights))
        elif isinstance(step, Smoke):
            await self._call(
                DeployActivities.smoke,
                SmokeInput(
                    **self._where(),
                    region=self._region,
                    service=service,
                    version=step.version,
                    checks=step.checks,
                    match=step.match,
                ),
                f"smoke-test {service} {step.version} in {self._region}",
            )
        elif isinstance(step, AwaitPromotion):
            self._phase = "awaiting-promotion"
            await self._hold_promotion(step.version)
            self._phase = "deploying"
        elif isinstance(step, Pause):
            self._phase = "paused"
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: self._gates.state(self._gate.name).closed,
                    timeout=timedelta(seconds=step.seconds),
                )
            self._check_not_rejected()
            self._phase = "deploying"
        elif isinstance(step, KeepWarm):
            await workflow.sleep(timedelta(seconds=step.seconds))
        elif isinstance(step, Retire):
            await self._each_zone(
                lambda zone: self._retire(service, step.version, zone, f"{key}/{zone}")
            )
        elif isinstance(step, PROGRESSIVE):
            await self._progressive.execute(target, step)

    async def _hold_promotion(self, version: str) -> None:
        """Wait at the promotion gate (phase ``awaiting-approval`` for visibility queries)."""
        assert self._request is not None
        workflow.upsert_search_attributes([PHASE.value_set("awaiting-approval")])
        try:
            await self._gates.hold(self._gate.name, lambda: False, version)
        finally:
            workflow.upsert_search_attributes([PHASE.value_set(self._request.action)])
        self._check_not_rejected()

    def _check_not_rejected(self) -> None:
        state = self._gates.state(self._gate.name)
        if state.closed and state.status != "approved":
            raise rejected_error(f"gate {self._gate.name} {describe_close(state)}")

    # --- activities -----------------------------------------------------------------------------

    def _where(self) -> dict[str, str]:
        assert self._request is not None
        return {"platform": self._request.platform, "environment": self._request.environment}

    async def _each_zone(self, work: Callable[[str], Awaitable[None]]) -> None:
        assert self._request is not None
        results = await asyncio.gather(
            *(work(zone) for zone in self._request.zones), return_exceptions=True
        )
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            raise failures[0]

    async def _prepare(self, service: str, step: Prepare, zone: str, key: str) -> None:
        launch = step.launch
        self._zone(service, zone, "starting")
        await self._call(
            DeployActivities.prepare_zone,
            PrepareInput(
                **self._where(),
                key=key,
                request=InstanceRequest(
                    region=self._region,
                    zone=zone,
                    service=service,
                    version=step.version,
                    artifact_dir="",
                    artifact_digest=launch.artifact_digest,
                    command=launch.command,
                    env=launch.env,
                    secrets=launch.secrets,
                    replicas=launch.replicas,
                    health_path=launch.health_path,
                    health_status=launch.health_status,
                ),
            ),
            f"start {service} {step.version} ×{launch.replicas} in {self._region}/{zone}",
        )
        self._zone(service, zone, "started")

    async def _healthy(self, service: str, step: AwaitHealthy, zone: str) -> None:
        try:
            await workflow.execute_activity_method(
                DeployActivities.await_healthy,
                HealthInput(
                    **self._where(),
                    region=self._region,
                    zone=zone,
                    service=service,
                    version=step.version,
                    timeout_s=step.deadline_s,
                    interval_s=step.interval_s,
                ),
                task_queue=self._queue,
                retry_policy=PROVIDER_RETRY,
                start_to_close_timeout=timedelta(seconds=step.deadline_s + 30),
                heartbeat_timeout=timedelta(seconds=5),
                summary=f"barrier: {service} {step.version} healthy in {self._region}/{zone}",
            )
        except ActivityError:
            self._zone(service, zone, "unhealthy")
            raise
        self._zone(service, zone, "healthy")

    async def _route(self, table: RouteTable, key: str) -> None:
        assert self._request is not None
        await switching.switch_routes(self._call, self._where(), self._request, table, key)

    async def _retire(self, service: str, version: str, zone: str, key: str) -> None:
        await self._call(
            DeployActivities.retire,
            RetireInput(
                **self._where(),
                key=key,
                region=self._region,
                zone=zone,
                service=service,
                version=version,
            ),
            f"retire {service} {version} in {self._region}/{zone}",
        )

    async def _state(self, service: str) -> ServiceState:
        state = await self._call(
            DeployActivities.service_state,
            StateInput(**self._where(), region=self._region, service=service),
            f"record {service} in {self._region}",
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

    # --- views ----------------------------------------------------------------------------------

    def _view(self, target: Target, phase: str) -> None:
        self._views[target.service] = ServiceView.model_validate(
            {
                "service": target.service,
                "version": target.version,
                "phase": phase,
                "zones": [ZoneView(zone=z, status="pending") for z in target.zones],
            }
        )

    def _set(self, service: str, **changes: object) -> None:
        view = self._views[service]
        self._views[service] = ServiceView.model_validate({**view.model_dump(), **changes})

    def _zone(self, service: str, zone: str, status: ZoneStatus) -> None:
        view = self._views[service]
        zones = tuple(
            z.model_copy(update={"status": status}) if z.zone == zone else z for z in view.zones
        )
        self._views[service] = view.model_copy(update={"zones": zones})

    def _live(self, target: Target, warm: Mapping[str, Sequence[str]]) -> None:
        """The view of a switched service: the new version serves every zone, ``warm`` beside it.

        A finalize starts from what the switch left (no activity needed: the
        switch checked it) and ends with the new version alone.
        """
        view = self._views[target.service]
        zones = tuple(
            ZoneView(
                zone=z.zone,
                status="live",
                versions=tuple(dict.fromkeys([*warm.get(z.zone, ()), target.version])),
            )
            for z in view.zones
        )
        self._views[target.service] = view.model_copy(
            update={"zones": zones, "weights": {target.version: 100}}
        )

    def _zones(self, service: str, status: ZoneStatus, state: ServiceState) -> None:
        view = self._views[service]
        zones = tuple(
            ZoneView(
                zone=z.zone, status=status, versions=tuple(state.versions_by_zone.get(z.zone, []))
            )
            for z in view.zones
        )
        weights = dict(state.routes.weights) if state.routes else {}
        self._views[service] = view.model_copy(update={"zones": zones, "weights": weights})
