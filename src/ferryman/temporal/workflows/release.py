"""``ReleaseWorkflow``: interprets the release's steps, and undoes them as a saga.

The steps come from ``ferryman.plan.release``: a ``BuildWorkflow`` child
(``<release>/build``), then each wave of regions switched at once (one
``RegionDeployWorkflow`` child per region, ``<release>/region/<name>``; the old
versions stay warm), the wave's bake, and the finalize that retires old
versions (``…/region/<name>/finalize``) once the release no longer needs them.
Before its first wave a release takes its environment's lock
(``ReleaseLockWorkflow``), so two releases of one system to one environment
never interleave: the second waits in the queue, or is refused.

A wave may lose up to ``max_failed_regions`` regions (each puts itself back).
Beyond that, or on a ``rollback`` Update, the regions still switching are
cancelled, which puts each of them back, and — with ``on_failure: rollback`` —
every region already switched is restored from its recorded state
(``…/region/<name>/restore``), the last wave first. With ``on_failure: pause``
the rollout waits for ``resume`` (switch the failed regions again and go on),
``rollback`` or ``abort`` (stop where it is, keep what was switched). People
can ``pause`` a rollout between steps too. Every one of these is an Update
with a validator. Long waits continue as new with the compensation, the log
and the lock carried over.

Approval gates (``ferryman.temporal.workflows.gates``) are steps too: the
release waits in phase ``awaiting-approval`` and takes ``decide`` Updates; a
rejected gate (or a region's rejected promotion gate) restores what was
deployed before it and ends the release ``rejected``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    ChildWorkflowError,
)

with workflow.unsafe.imports_passed_through():
    from ferryman.approvals.audit import AuditEvent
    from ferryman.approvals.policy import GateDecision, describe_close
    from ferryman.approvals.views import GateView
    from ferryman.build.report import failure_summary
    from ferryman.plan.custom_steps import CustomStepPlan, for_region
    from ferryman.plan.models import GatePlan, ReleasePlan
    from ferryman.plan.release import (
        Bake,
        BuildStep,
        CustomStep,
        DeployWave,
        Finalize,
        Gate,
        ReleaseStep,
        RestoreRegions,
        release_steps,
        undo_order,
    )
    from ferryman.plan.version import derive_version
    from ferryman.temporal.activities.lock import LockActivities
    from ferryman.temporal.failures import failure_message
    from ferryman.temporal.models.build import BuildRequest, BuildResult
    from ferryman.temporal.models.custom import ReleaseContext, StepRecord, StepView
    from ferryman.temporal.models.lock import LockInput, LockRequest
    from ferryman.temporal.models.region import (
        Decision,
        RegionAction,
        RegionDeployRequest,
        RegionResult,
        ServiceRollout,
    )
    from ferryman.temporal.models.release import (
        FINISHED_PHASES,
        Paused,
        PromotionNote,
        RegionState,
        ReleaseCarry,
        ReleaseContinuation,
        ReleaseEvent,
        ReleasePhase,
        ReleaseProgress,
        ReleaseResult,
        ReleaseStatus,
    )
    from ferryman.temporal.names import (
        ENV,
        PHASE,
        SYSTEM,
        VERSION,
        build_id,
        lock_id,
        region_deploy_id,
    )
    from ferryman.temporal.workflows.build import BuildWorkflow
    from ferryman.temporal.workflows.custom_steps import STEP_PROGRESS, StepBook, StepRunner
    from ferryman.temporal.workflows.gates import GateKeeper, rejection_of
    from ferryman.temporal.workflows.region import RegionDeployWorkflow
    from ferryman.temporal.workflows.saga import ROUTES_BACK, settle, was_cancelled

FAILURES = (ActivityError, ApplicationError, ChildWorkflowError)
EVENTS_KEPT = 200
T = TypeVar("T")


class RollbackRequested(Exception):
    """Raised inside the workflow when a ``rollback`` Update interrupts the release."""


class AbortRequested(Exception):
    """Raised inside the workflow when an ``abort`` Update stops the release."""


class GateRejected(Exception):
    """Raised inside the workflow when a gate is rejected (or its timeout rejects it)."""


@workflow.defn(name="ferryman.Release")
class ReleaseWorkflow:
    """Interprets a ``ReleasePlan``: build, waves of regions, finalize; a saga on failure."""

    def __init__(self) -> None:
        self._id = ""
        self._plan: ReleasePlan | None = None
        self._phase: ReleasePhase = "pending"
        self._version = ""
        self._nodes: dict[str, str] = {}
        self._regions: dict[str, RegionState] = {}
        self._events: list[ReleaseEvent] = []
        self._routers: dict[str, str] = {}
        self._error = ""
        self._results: dict[str, RegionResult] = {}
        self._touched: list[tuple[int, str]] = []
        self._rollouts: tuple[ServiceRollout, ...] = ()
        self._restored: list[str] = []
        self._routes_back: set[str] = set()
        self._attempts: dict[str, int] = {}
        self._decisions: list[Decision] = []
        self._build: BuildResult | None = None
        self._committed = False
        self._runs = 1
        self._step_index = 0
        self._waiting_for = ""
        self._bake_until = ""
        self._lock_asked = False
        self._lock_held = False
        self._lock_refused: str | None = None
        self._paused: Paused | None = None
        self._pause_request: Decision | None = None
        self._resume: Decision | None = None
        self._rollback: Decision | None = None
        self._abort: Decision | None = None
        self._gates = GateKeeper()
        self._book = StepBook()
        self._runner = StepRunner(self._report_step)

    # --- humans: Updates with validators, signals from the lock, a query -------------------

    @workflow.query
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
            waves=tuple(w.regions for w in plan.deploy.ordered_waves()) if plan else (),
            regions=dict(self._regions),
            events=tuple(self._events),
            router_urls=dict(self._routers),
            error=self._error,
            waiting_for=self._waiting_for or self._book.waiting(),
            bake_until=self._bake_until,
            steps=self._book.views(),
        )

    @workflow.signal
    def promoted(self, note: PromotionNote) -> None:
        """Log that a region was promoted (sent once its promotion was accepted)."""
        why = f": {note.reason}" if note.reason else ""
        self._log(f"{note.region} promoted by {note.by}{why}")

    @workflow.signal(name=ROUTES_BACK)
    def routes_back(self, region: str) -> None:
        """A restoring region's users are back on its previous version (cleanup follows)."""
        self._routes_back.add(region)

    @workflow.update
    async def rollback(self, decision: Decision) -> str:
        """Put back every region the release touched; answers once they are back."""
        self._rollback = self._decided(decision)
        await workflow.wait_condition(lambda: self._phase in FINISHED_PHASES)
        restored = self._restored
        where = f"restored {', '.join(restored)}" if restored else "no region was touched"
        return f"{self._id}: {self._phase} ({where}; asked by {decision.by})"

    @rollback.validator
    def _check_rollback(self, decision: Decision) -> None:
        self._check_running("roll back")
        if self._committed:
            raise ValueError(f"{self._id} already committed; it is retiring the old versions")
        if self._rollback is not None:
            raise ValueError(f"{self._id} is already rolling back (asked by {self._rollback.by})")

    @workflow.update
    def pause(self, decision: Decision) -> str:
        """Stop the rollout at the end of the current step, until ``resume``."""
        self._pause_request = self._decided(decision)
        return f"{self._id}: pausing after the current step (asked by {decision.by})"

    @pause.validator
    def _check_pause(self, decision: Decision) -> None:
        self._check_running("pause")
        if self._paused is not None or self._pause_request is not None:
            raise ValueError(f"{self._id} is already paused")
        if self._rollback is not None or self._committed or self._phase == "rolling-back":
            raise ValueError(f"{self._id} is past pausing (phase {self._phase})")

    @workflow.update
    def resume(self, decision: Decision) -> str:
        """Go on with a paused rollout, switching again the regions that failed."""
        self._resume = self._decided(decision)
        paused = self._paused
        again = f"; switching {', '.join(paused.retry)} again" if paused and paused.retry else ""
        return f"{self._id}: resumed by {decision.by}{again}"

    @resume.validator
    def _check_resume(self, decision: Decision) -> None:
        self._check_running("resume")
        if self._paused is None and self._pause_request is None:
            raise ValueError(f"{self._id} is not paused (phase {self._phase})")

    @workflow.update
    async def abort(self, decision: Decision) -> str:
        """Stop where the rollout is, keeping what was switched (to fix forward)."""
        self._abort = self._decided(decision)
        await workflow.wait_condition(lambda: self._phase in FINISHED_PHASES)
        return f"{self._id}: {self._phase} (asked by {decision.by})"

    @abort.validator
    def _check_abort(self, decision: Decision) -> None:
        self._check_running("abort")
        if self._rollback is not None or self._abort is not None or self._committed:
            raise ValueError(f"{self._id} is past aborting (phase {self._phase})")
        if self._phase == "rolling-back":
            raise ValueError(f"{self._id} is past aborting (phase {self._phase})")

    def _check_running(self, action: str) -> None:
        if self._phase in FINISHED_PHASES:
            raise ValueError(f"{self._id} already finished ({self._phase}); nothing to {action}")

    def _decided(self, decision: Decision) -> Decision:
        self._decisions.append(decision)
        return decision

    @workflow.signal
    def lock_granted(self) -> None:
        """The environment's lock is this release's."""
        self._lock_held = True

    @workflow.signal
    def lock_refused(self, holder: str) -> None:
        """Another release holds the lock and this one asked not to wait."""
        self._lock_refused = holder

    @workflow.signal(name=STEP_PROGRESS)
    def step_progress(self, view: StepView) -> None:
        """A region deploy's step changed (its view, for progress and the log)."""
        self._note_step(view)

    @workflow.update
    def decide(self, decision: GateDecision) -> str:
        """Approve or reject a gate of this release (the validator applies its policy)."""
        return self._gates.decide(decision)

    @decide.validator
    def _check_decide(self, decision: GateDecision) -> None:
        self._gates.validate(decision)

    @workflow.query
    def audit(self) -> tuple[AuditEvent, ...]:
        """Every event of this release's gates (promotion gates: ask the region deploys)."""
        return self._gates.audit()

    @workflow.query
    def gates(self) -> tuple[GateView, ...]:
        """This release's gates and where each stands."""
        return self._gates.views(only_open=False)

    # --- the run --------------------------------------------------------------------------------

    @workflow.run
    async def run(self, start: ReleasePlan | ReleaseContinuation) -> ReleaseResult:
        """Carry out the plan's steps; undo what was done on failure or rollback.

        Args:
            start: The plan, or (after continue-as-new) the plan and what the
                previous run knew.
        """
        plan, carry = (
            (start.plan, start.carry)
            if isinstance(start, ReleaseContinuation)
            else (
                start,
                None,
            )
        )
        self._id = workflow.info().workflow_id
        self._plan = plan
        self._regions = {region.name: "pending" for region in plan.deploy.regions}
        self._nodes = {node.id: "pending" for node in plan.build.nodes}
        self._gates.setup(
            [gate for gate in plan.deploy.gates if gate.at != "promotion"],
            release_id=self._id,
            requested_by=plan.requested_by,
            environment=plan.environment,
        )
        if carry is not None:
            self._restore_carry(carry)
        else:
            workflow.upsert_search_attributes(
                [SYSTEM.value_set(plan.system), ENV.value_set(plan.environment)]
            )
        try:
            return await self._run_steps(plan)
        finally:
            if self._phase in FINISHED_PHASES:
                await self._release_lock(plan)

    async def _run_steps(self, plan: ReleasePlan) -> ReleaseResult:
        steps = release_steps(plan.deploy)
        try:
            while self._step_index < len(steps):
                await self._checkpoint(plan)
                step = steps[self._step_index]
                self._committed = isinstance(step, Finalize) and self._step_index == len(steps) - 1
                await self._step(plan, step)
                self._step_index += 1
        except RollbackRequested:
            assert self._rollback is not None
            self._log(f"rollback asked by {self._rollback.by}: {self._rollback.reason}")
            await self._undo()
            self._set_phase("rolled-back")
            return await self._finish("rolled-back")
        except AbortRequested:
            assert self._abort is not None
            self._log(f"aborted by {self._abort.by}: {self._abort.reason}; keeping what switched")
            await self._finalize(plan, tuple(self._results))
            self._set_phase("aborted")
            return await self._finish("aborted")
        except GateRejected as exc:
            return await self._rejected(str(exc))
        except (*FAILURES, asyncio.CancelledError) as exc:
            cancelled = isinstance(exc, asyncio.CancelledError)
            rejection = None if cancelled else rejection_of(exc)
            if rejection is not None:
                return await self._rejected(rejection)
            reason = "cancelled" if cancelled else failure_message(exc)
            self._error = reason
            self._log(f"release failed: {reason}")
            if not self._committed:
                await self._undo()
            self._set_phase("failed")
            await workflow.wait_condition(workflow.all_handlers_finished)
            if cancelled:
                raise
            also = f"; restored {', '.join(self._restored)}" if self._restored else ""
            raise ApplicationError(f"{reason}{also}", non_retryable=True) from exc
        self._set_phase("done")
        self._log("release complete")
        return await self._finish(self._status())

    def _status(self) -> ReleaseStatus:
        if any(state == "failed" for state in self._regions.values()):
            return "partial"
        touched = [r for r in self._results.values() if r.status != "unchanged"]
        return "succeeded" if touched or not self._results else "unchanged"

    async def _step(self, plan: ReleasePlan, step: ReleaseStep) -> None:
        if isinstance(step, BuildStep):
            self._build = await self._interruptible(self._build_all(plan))
            self._rollouts = self._service_rollouts(plan, self._build)
        elif isinstance(step, DeployWave):
            if not self._lock_held:
                await self._take_lock(plan)
                await self._checkpoint(plan)  # what people asked while it waited in the queue
            await self._deploy_wave(plan, step, step.regions)
        elif isinstance(step, Bake):
            await self._under_policy(plan, lambda: self._bake(step))
        elif isinstance(step, Finalize):
            await self._finalize(plan, step.regions)
        elif isinstance(step, Gate):
            await self._gate(step.gate)
        elif isinstance(step, CustomStep):
            await self._take_lock(plan)  # a team's step changes the environment too
            await self._under_policy(plan, lambda: self._custom_step(step.step))

    async def _gate(self, gate: GatePlan) -> None:
        self._set_phase("awaiting-approval")
        self._log(f"gate {gate.name} ({gate.point}) waits for {gate.required} approval(s)")
        status = await self._gates.hold(
            gate.name,
            lambda: self._rollback is not None or self._abort is not None,
            self._version,
        )
        outcome = describe_close(self._gates.state(gate.name))
        if status == "cancelled":
            raise RollbackRequested if self._rollback is not None else AbortRequested
        if status != "approved":
            raise GateRejected(f"gate {gate.name} {outcome}")
        self._log(f"gate {gate.name} passed: {outcome}")
        self._memo()

    async def _rejected(self, reason: str) -> ReleaseResult:
        self._error = reason
        self._log(f"release rejected: {reason}")
        await self._undo()
        self._set_phase("rejected")
        return await self._finish("rejected")

    async def _checkpoint(self, plan: ReleasePlan) -> None:
        """Between steps: honour rollback, abort and pause; continue as new when it is time."""
        if self._rollback is not None:
            raise RollbackRequested
        if self._abort is not None:
            raise AbortRequested
        if self._pause_request is not None and self._paused is None:
            asked = self._pause_request
            self._paused = Paused(by=asked.by, reason=asked.reason)
        if self._paused is not None:
            await self._wait_while_paused(plan)
        if self._continue_as_new_due(plan):
            self._continue_as_new(plan)

    async def _wait_while_paused(self, plan: ReleasePlan) -> None:
        paused = self._paused
        assert paused is not None
        self._set_phase("paused")
        again = f"; resuming switches {', '.join(paused.retry)} again" if paused.retry else ""
        self._waiting_for = (
            f"a person: paused by {paused.by} ({paused.reason}){again} — "
            f"`ferryman resume {self._id}`, `ferryman rollback {self._id} --reason …` or "
            f"`ferryman abort {self._id} --reason …`"
        )
        self._memo()
        await workflow.wait_condition(
            lambda: (
                self._resume is not None
                or self._rollback is not None
                or self._abort is not None
                or self._continue_as_new_due(plan)
            )
        )
        if self._resume is None and self._rollback is None and self._abort is None:
            self._continue_as_new(plan)
        self._waiting_for = ""
        if self._rollback is not None:
            raise RollbackRequested
        if self._abort is not None:
            raise AbortRequested
        assert self._resume is not None
        self._log(f"resumed by {self._resume.by}: {self._resume.reason}")
        retry, wave = paused.retry, paused.wave
        self._paused, self._pause_request, self._resume = None, None, None
        if retry:
            await self._deploy_wave(plan, self._wave_step(plan, wave), retry)

    def _wave_step(self, plan: ReleasePlan, wave: int) -> DeployWave:
        steps = [s for s in release_steps(plan.deploy) if isinstance(s, DeployWave)]
        return next(step for step in steps if step.wave == wave)

    async def _finish(self, status: ReleaseStatus) -> ReleaseResult:
        await workflow.wait_condition(workflow.all_handlers_finished)
        return ReleaseResult(
            release_id=self._id,
            version=self._version,
            status=status,
            build=self._build,
            regions=dict(self._results),
            router_urls=dict(self._routers),
            error=self._error,
            steps=self._book.views(),
        )

    async def _interruptible(self, work: Awaitable[T]) -> T:
        task = asyncio.ensure_future(work)
        await workflow.wait_condition(lambda: task.done() or self._rollback is not None)
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, *FAILURES):
                await task
            raise RollbackRequested
        return task.result()

    async def _bake(self, step: Bake) -> None:
        self._set_phase("bake")
        until = workflow.now() + timedelta(seconds=step.seconds)
        self._bake_until = until.isoformat()
        self._log(f"wave {step.wave + 1} baking for {step.seconds:g}s")
        stop = lambda: self._rollback is not None or self._abort is not None  # noqa: E731
        if step.checks:
            checks = [check.model_copy(update={"wave": step.wave + 1}) for check in step.checks]
            records = await self._runner.during(checks, step.seconds, stop, self._run_step)
            for record in records:
                self._book.done(record)
        else:
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(stop, timeout=timedelta(seconds=step.seconds))
        self._bake_until = ""

    # --- teams' steps ---------------------------------------------------------------------------

    async def _custom_step(self, step: CustomStepPlan) -> None:
        self._set_phase("deploy")
        self._book.done(await self._interruptible(self._run_step(step)))

    def _run_step(self, step: CustomStepPlan) -> Awaitable[StepRecord]:
        return self._runner.run(
            step,
            self._context(),
            key=f"{self._id}/step/{step.name}" + (f"/{step.wave}" if step.wave else ""),
            webhook_queue=workflow.info().task_queue,
            position=len(self._touched),
        )

    async def _under_policy(self, plan: ReleasePlan, work: Callable[[], Awaitable[None]]) -> None:
        """Run ``work``; with ``on_failure: pause`` a failure pauses, and ``resume`` reruns it."""
        while True:
            try:
                return await work()
            except FAILURES as exc:
                if plan.deploy.on_failure != "pause" or rejection_of(exc) is not None:
                    raise
                reason = failure_message(exc)
                self._log(f"{reason}; pausing for a person")
                self._paused = Paused(by="ferryman", reason=reason)
                await self._wait_while_paused(plan)

    def _context(self) -> ReleaseContext:
        plan = self._plan
        assert plan is not None
        return ReleaseContext(
            release_id=self._id,
            system=plan.system,
            environment=plan.environment,
            version=self._version,
            versions={r.service.name: r.version for r in self._rollouts},
        )

    async def _report_step(self, view: StepView) -> None:
        self._note_step(view)

    def _note_step(self, view: StepView) -> None:
        line = self._book.note(view)
        if line:
            self._log(line)
        self._memo()

    async def _compensate(self, key: str) -> None:
        record = self._book.undone(key)
        if record is not None:
            queue = workflow.info().task_queue
            await self._runner.compensate(record, self._context(), webhook_queue=queue)

    # --- continue-as-new ------------------------------------------------------------------------

    def _continue_as_new_due(self, plan: ReleasePlan) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() > plan.history_limit
        )

    def _continue_as_new(self, plan: ReleasePlan) -> None:
        self._log(f"continuing as new (run {self._runs + 1}) to keep the history small")
        carry = ReleaseCarry(
            next_step=self._step_index,
            phase=self._phase,
            version=self._version,
            nodes=self._nodes,
            build=self._build,
            rollouts=self._rollouts,
            results=self._results,
            touched=tuple(self._touched),
            regions=self._regions,
            events=tuple(self._events[-EVENTS_KEPT:]),
            restored=tuple(self._restored),
            routers=self._routers,
            lock_held=self._lock_held,
            paused=self._paused,
            attempts=self._attempts,
            runs=self._runs + 1,
            decisions=tuple(self._decisions),
            gates=self._gates.snapshot(),
            custom=self._book.state(),
        )
        workflow.continue_as_new(ReleaseContinuation(plan=plan, carry=carry))

    def _restore_carry(self, carry: ReleaseCarry) -> None:
        self._step_index = carry.next_step
        self._phase = carry.phase
        self._version = carry.version
        self._nodes = dict(carry.nodes)
        self._build = carry.build
        self._rollouts = carry.rollouts
        self._results = dict(carry.results)
        self._touched = list(carry.touched)
        self._regions = dict(carry.regions)
        self._events = list(carry.events)
        self._restored = list(carry.restored)
        self._routers = dict(carry.routers)
        self._lock_asked = self._lock_held = carry.lock_held
        self._paused = carry.paused
        self._attempts = dict(carry.attempts)
        self._runs = carry.runs
        self._decisions = list(carry.decisions)
        self._gates.load(carry.gates)
        self._book.load(carry.custom)

    # --- the environment's lock -----------------------------------------------------------------

    async def _take_lock(self, plan: ReleasePlan) -> None:
        if self._lock_held:
            return
        # Said with the phase, so a status read while the lock is asked for explains it.
        self._waiting_for = (
            f"another release of {plan.system} to {plan.environment} to finish "
            f"(`ferryman status` lists them)"
        )
        self._set_phase("queued")
        self._lock_asked = True
        await workflow.execute_activity_method(
            LockActivities.request_lock,
            LockInput(
                lock_id=lock_id(plan.system, plan.environment, workflow.info().task_queue),
                task_queue=workflow.info().task_queue,
                request=LockRequest(release_id=self._id, wait=plan.queue),
            ),
            start_to_close_timeout=timedelta(seconds=30),
            summary=f"ask for {plan.environment}'s lock",
        )
        self._memo()
        await workflow.wait_condition(
            lambda: (
                self._lock_held
                or self._lock_refused is not None
                or self._rollback is not None
                or self._abort is not None
            )
        )
        self._waiting_for = ""
        if self._abort is not None and not self._lock_held:
            raise AbortRequested
        if self._lock_refused is not None:
            raise ApplicationError(
                f"{plan.environment} is busy with {self._lock_refused}; not queued (--no-queue)",
                non_retryable=True,
            )
        if self._rollback is not None:
            raise RollbackRequested
        self._log(f"holding {plan.environment}'s lock")

    async def _release_lock(self, plan: ReleasePlan) -> None:
        if not self._lock_asked:
            return
        lock = lock_id(plan.system, plan.environment, workflow.info().task_queue)
        handle = workflow.get_external_workflow_handle(lock)
        with contextlib.suppress(Exception):
            await handle.signal("release", self._id)
        self._lock_held = self._lock_asked = False

    # --- build ----------------------------------------------------------------------------------

    async def _build_all(self, plan: ReleasePlan) -> BuildResult:
        self._set_phase("build")
        self._log(f"building {len(plan.build.nodes)} node(s)")
        self._nodes = {node.id: "running" for node in plan.build.nodes}
        build = await workflow.execute_child_workflow(
            BuildWorkflow.run,
            BuildRequest(run_id=self._id, plan=plan.build),
            id=build_id(self._id),
        )
        self._nodes = {
            node_id: "cached" if node.cached else node.status
            for node_id, node in build.nodes.items()
        }
        if not build.succeeded:
            reasons = failure_summary(
                (node.id, node.status, node.error)
                for node in build.nodes.values()
                if node.status != "succeeded"
            )
            raise ApplicationError(f"build failed: {reasons}", non_retryable=True)
        self._log("build succeeded")
        return build

    def _service_rollouts(
        self, plan: ReleasePlan, build: BuildResult
    ) -> tuple[ServiceRollout, ...]:
        rollouts = []
        for service in plan.deploy.services:
            node = build.nodes[service.artifact_node]
            assert node.artifact is not None
            rollouts.append(
                ServiceRollout(
                    service=service,
                    version=plan.version or derive_version(node.commit),
                    artifact_digest=node.artifact.digest,
                )
            )
        self._version = plan.version or (rollouts[0].version if rollouts else "")
        if self._version:
            workflow.upsert_search_attributes([VERSION.value_set(self._version)])
        return tuple(rollouts)

    # --- regions --------------------------------------------------------------------------------

    def _region_child(
        self, plan: ReleasePlan, region: str, action: RegionAction, **fields: Any
    ) -> Awaitable[RegionResult]:
        zones = plan.deploy.region(region).zones
        request = RegionDeployRequest(
            release_id=self._id,
            platform=plan.deploy.platform,
            environment=plan.environment,
            region=region,
            zones=zones,
            data_plane=plan.deploy.region(region).data_plane,
            action=action,
            promotion_gate=plan.deploy.gate_at("promotion"),
            requested_by=plan.requested_by,
            context=self._context(),
            **fields,
        )
        attributes = [
            SearchAttributePair(SYSTEM, plan.system),
            SearchAttributePair(ENV, plan.environment),
            SearchAttributePair(PHASE, action),
        ]
        return workflow.execute_child_workflow(
            RegionDeployWorkflow.run,
            request,
            id=region_deploy_id(self._id, region, action),
            static_summary=f"{action} {region}",
            search_attributes=TypedSearchAttributes(attributes),
        )

    async def _deploy_wave(
        self, plan: ReleasePlan, step: DeployWave, regions: tuple[str, ...]
    ) -> None:
        self._set_phase("deploy")
        versions = ", ".join(f"{r.service.name} {r.version}" for r in self._rollouts)
        self._log(f"wave {step.wave + 1}: switching {', '.join(regions)} to {versions}")
        budget = plan.deploy.ordered_waves()[step.wave].max_failed_regions
        tasks: dict[str, asyncio.Future[RegionResult]] = {}
        for region in regions:
            if (step.wave, region) not in self._touched:
                self._touched.append((step.wave, region))
            self._regions[region] = "deploying"
            attempt = self._attempts.get(region, -1) + 1
            self._attempts[region] = attempt
            tasks[region] = asyncio.ensure_future(
                self._region_child(
                    plan,
                    region,
                    "switch",
                    services=self._rollouts,
                    finalize_now=step.finalize_now,
                    attempt=attempt,
                    steps=for_region(plan.deploy.steps, region),
                )
            )
        self._memo()

        def failed() -> list[str]:
            return [r for r, t in tasks.items() if t.done() and t.exception() is not None]

        def settled() -> bool:
            over = len(failed()) > budget
            return over or self._rollback is not None or all(t.done() for t in tasks.values())

        try:
            await workflow.wait_condition(settled)
        finally:
            # Regions still switching are cancelled, and put themselves back, before going on.
            for task in tasks.values():
                if not task.done():
                    task.cancel()
            await settle(asyncio.gather(*tasks.values(), return_exceptions=True))
        self._settle_wave(tasks)
        lost = tuple(r for r in tasks if self._regions[r] in ("failed", "restored"))
        failures = [r for r in tasks if self._regions[r] == "failed"]
        self._memo()
        if self._rollback is not None:
            raise RollbackRequested
        if len(failures) <= budget:
            for region in failures:
                self._log(f"{region} failed within the wave's budget ({budget}); going on")
            return
        first = next(tasks[r].exception() for r in failures)
        assert first is not None
        if plan.deploy.on_failure == "pause":
            reason = failure_message(first)
            self._log(f"wave {step.wave + 1} failed ({reason}); pausing for a person")
            self._paused = Paused(by="ferryman", reason=reason, wave=step.wave, retry=lost)
            return
        raise first

    def _settle_wave(self, tasks: dict[str, asyncio.Future[RegionResult]]) -> None:
        for region, task in tasks.items():
            error = None if task.cancelled() else task.exception()
            if task.cancelled() or error is not None:
                # A region deploy that failed or was cancelled has put itself back.
                cancelled = task.cancelled() or was_cancelled(error)
                self._regions[region] = "restored" if cancelled else "failed"
                if error is not None and not cancelled:
                    self._log(f"{region} failed: {failure_message(error)}")
                continue
            self._switched(region, task.result())

    def _switched(self, region: str, result: RegionResult) -> None:
        self._results[region] = result
        if result.router_url:
            self._routers[region] = result.router_url
        versions = ", ".join(f"{s} {v}" for s, v in result.versions.items())
        if result.status == "unchanged":
            self._regions[region] = "unchanged"
            self._log(f"{region}: {versions} already live, nothing to do")
        else:
            self._regions[region] = "live" if result.status == "finalized" else "switched"
            self._log(f"{region}: router serves {versions}")

    async def _finalize(self, plan: ReleasePlan, regions: tuple[str, ...]) -> None:
        todo = [r for r in regions if r in self._results and self._results[r].status == "switched"]
        for region in regions:
            if self._regions.get(region) == "switched" and region not in todo:
                self._regions[region] = "live"
        if not todo:
            return
        self._set_phase("finalize")
        self._log(f"retiring old versions in {', '.join(todo)}")
        for region in todo:
            self._regions[region] = "finalizing"
        results = await settle(
            asyncio.gather(
                *(self._region_child(plan, r, "finalize", previous=self._results[r]) for r in todo)
            )
        )
        for region, result in zip(todo, results, strict=True):
            self._results[region] = result
            self._regions[region] = "live"
        self._memo()

    async def _undo(self) -> None:
        """Restore every switched region and compensate teams' steps, the last done first.

        Shielded from cancellation.
        """
        plan = self._plan
        assert plan is not None
        order = []
        for item in undo_order(self._touched, self._book.to_undo()):
            if isinstance(item, RestoreRegions):
                group = tuple(
                    r
                    for r in item.regions
                    if r in self._results
                    and self._results[r].status not in ("unchanged", "restored")
                )
                if not group:
                    continue
                item = RestoreRegions(regions=group)
            order.append(item)
        if not order:
            return
        self._set_phase("rolling-back")
        restores: dict[str, asyncio.Future[RegionResult]] = {}
        for item in order:
            if not isinstance(item, RestoreRegions):
                # A team's compensation runs once the regions restored before it are whole.
                await self._settle_restores(restores)
                await settle(self._compensate(item.step))
                continue
            group = item.regions
            self._log(f"restoring {', '.join(group)}")
            for region in group:
                self._regions[region] = "restoring"
                self._routes_back.discard(region)
                restores[region] = asyncio.ensure_future(
                    self._region_child(plan, region, "restore", previous=self._results[region])
                )
            # The next wave goes back once this one's routes are; its cleanup runs meanwhile.
            await settle(workflow.wait_condition(self._routes_back_in(group, restores)))
            for region in group:
                if region in self._routes_back:
                    self._regions[region] = "restored"
                    self._restored.append(region)
            self._memo()
        await self._settle_restores(restores)
        self._memo()

    async def _settle_restores(self, restores: dict[str, asyncio.Future[RegionResult]]) -> None:
        """Wait for every started restore to end (cleanups included), recording each result."""
        pending = list(restores)
        if not pending:
            return
        results = await settle(asyncio.gather(*(restores.pop(r) for r in pending)))
        for region, result in zip(pending, results, strict=True):
            self._results[region] = result
            if region not in self._restored:
                self._regions[region] = "restored"
                self._restored.append(region)

    def _routes_back_in(
        self, group: tuple[str, ...], restores: dict[str, asyncio.Future[RegionResult]]
    ) -> Callable[[], bool]:
        def back() -> bool:
            return all(r in self._routes_back or restores[r].done() for r in group)

        return back

    # --- bookkeeping ----------------------------------------------------------------------------

    def _set_phase(self, phase: ReleasePhase) -> None:
        self._phase = phase
        workflow.upsert_search_attributes([PHASE.value_set(phase)])
        self._memo()

    def _memo(self) -> None:
        summary = self.progress().model_copy(
            update={"nodes": {}, "events": tuple(self._events[-5:])}
        )
        workflow.upsert_memo({"progress": summary.model_dump(mode="json")})

    def _log(self, message: str) -> None:
        self._events.append(ReleaseEvent(at=workflow.now().isoformat(), message=message))
