"""Teams' steps inside the workflows: run them, report them, undo them.

- :class:`StepRunner` calls a step: an activity by its name on the team's task
  queue (``workflow.execute_activity("migrate-db", payload, task_queue=…)``,
  untyped, so any language's worker serves it) or ferryman's ``ferryman.webhook``
  activity. It reports every change of the step's :class:`StepView`.
- **Waiting for a worker** is found in the workflow, not guessed by a client: each
  call has a schedule-to-start timeout (the step's ``worker-wait``). When it fires,
  no worker has taken the task; the step is reported ``waiting-for-worker``
  ("waiting for a worker on payments-ops"), the same call is scheduled again (with
  a longer wait, up to five minutes), and the release keeps waiting. Once a
  schedule outlives its wait, a worker has it: the step is ``running`` again.
  The report is durable (the release's memo), so ``ferryman status`` shows it even
  with no ferryman worker running.
- :class:`StepBook` is the release's record of its steps: their views (progress,
  memo, result), the log lines they produce, and the succeeded steps whose
  compensations a rollback runs.
- :class:`RegionSteps` runs a region deploy's steps (before-region, promotion,
  after-region), keeps what succeeded for the region's own rollback and for the
  release's restore, and reports each view to the release (a ``step_progress``
  signal), so one release shows all of its steps.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, TimeoutType
from temporalio.exceptions import TimeoutError as ActivityTimeout

with workflow.unsafe.imports_passed_through():
    from pydantic import JsonValue, TypeAdapter, ValidationError

    from ferryman.deploy.steps import Step
    from ferryman.plan.custom_steps import ActivityPlan, CallPlan, CustomStepPlan, promotes
    from ferryman.temporal.failures import failure_message
    from ferryman.temporal.models.custom import (
        CompensatedStep,
        CustomStepInput,
        ReleaseContext,
        StepBookState,
        StepRecord,
        StepView,
        WebhookInput,
        WebhookResult,
        judge,
    )
    from ferryman.temporal.models.region import RegionDeployRequest

STEP_PROGRESS = "step_progress"
"""The release's signal that takes a region step's view."""
STEP_FAILED = "CustomStepFailed"
MAX_WORKER_WAIT_S = 300.0
SHOWN = 160

Report = Callable[[StepView], Awaitable[None]]
_JSON: TypeAdapter[JsonValue] = TypeAdapter(JsonValue)


def _short(value: JsonValue) -> str:
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"


def _as_json(value: object, call: ActivityPlan) -> JsonValue:
    """A team's answer as JSON; anything else (a Go ``[]byte``: ``binary/plain``) fails it.

    Raises:
        ApplicationError: Non-retryable: the answer is no JSON value.
    """
    try:
        return _JSON.validate_python(value)
    except ValidationError:
        raise ApplicationError(
            f"{call.target} returned {type(value).__name__}, not JSON "
            "(an object, a list, a string, a number, a boolean or nothing)",
            type="CustomStepResult",
            non_retryable=True,
        ) from None


def _no_worker(error: ActivityError) -> bool:
    cause = error.cause
    return isinstance(cause, ActivityTimeout) and cause.type == TimeoutType.SCHEDULE_TO_START


def _retry(retries: int, non_retryable: Sequence[str] = ()) -> RetryPolicy:
    return RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=30),
        maximum_attempts=retries + 1,
        non_retryable_error_types=list(non_retryable),
    )


class StepRunner:
    """Calls teams' steps and their compensations, reporting each change of their views.

    Args:
        report: Takes every new view of a step (the release records it, a region
            deploy forwards it to its release).
    """

    def __init__(self, report: Report) -> None:
        self._report = report

    async def run(
        self,
        step: CustomStepPlan,
        context: ReleaseContext,
        *,
        key: str,
        webhook_queue: str,
        region: str = "",
        position: int = 0,
    ) -> StepRecord:
        """Run ``step`` once (with its retries); its record, if it succeeded.

        Raises:
            ApplicationError: The step failed (non-retryable, type ``CustomStepFailed``).
        """
        call = step.call
        payload = self._payload(step.name, "run", step.point, context, region, step.wave, key, call)
        view = StepView(
            name=step.name,
            at=step.point,
            region=region,
            kind=call.kind,
            target=call.target,
            input=dict(call.input),
            since=workflow.now().isoformat(),
        )
        await self._report(view)
        where = f" in {region}" if region else ""
        try:
            result = await self._call(call, payload, view, webhook_queue)
        except (ActivityError, ApplicationError) as exc:
            reason = failure_message(exc)
            await self._report(view.model_copy(update={"status": "failed", "error": reason}))
            raise ApplicationError(
                f"step {step.name}{where} failed: {reason}", type=STEP_FAILED, non_retryable=True
            ) from exc
        except asyncio.CancelledError:
            await self._report(view.model_copy(update={"status": "failed", "error": "cancelled"}))
            raise
        verdict = (
            result.get("parsed") if call.kind == "webhook" and isinstance(result, dict) else result
        )
        passed, message = judge(verdict)
        if not passed:
            reason = message or "the step's result says passed: false"
            update = {"status": "failed", "error": reason, "result": result, "waiting": ""}
            await self._report(view.model_copy(update=update))
            raise ApplicationError(
                f"step {step.name}{where} failed: {reason}", type=STEP_FAILED, non_retryable=True
            )
        update = {"status": "succeeded", "result": result, "waiting": ""}
        await self._report(view.model_copy(update=update))
        return StepRecord(
            name=step.name,
            at=step.at,
            point=step.point,
            region=region,
            wave=step.wave,
            position=position,
            key=key,
            input=dict(call.input),
            result=result,
            compensate=step.compensate,
        )

    async def compensate(
        self, record: StepRecord, context: ReleaseContext, *, webhook_queue: str
    ) -> bool:
        """Run the compensation ``record`` declares; False (reported, not raised) if it fails."""
        call = record.compensate
        if call is None:
            return True
        payload = self._payload(
            record.name,
            "compensate",
            record.point,
            context,
            record.region,
            record.wave,
            f"{record.key}/compensate",
            call,
        ).model_copy(
            update={
                "compensates": CompensatedStep(
                    step=record.name, input=record.input, result=record.result
                )
            }
        )
        view = StepView(
            name=record.name,
            at=record.point,
            region=record.region,
            kind=call.kind,
            target=call.target,
            status="compensating",
            input=dict(record.input),
            result=record.result,
            since=workflow.now().isoformat(),
        )
        await self._report(view)
        try:
            await self._call(call, payload, view, webhook_queue)
        except (ActivityError, ApplicationError) as exc:
            update = {"status": "compensation-failed", "error": failure_message(exc), "waiting": ""}
            await self._report(view.model_copy(update=update))
            return False
        await self._report(view.model_copy(update={"status": "compensated", "waiting": ""}))
        return True

    @staticmethod
    def _payload(
        name: str,
        action: str,
        point: str,
        context: ReleaseContext,
        region: str,
        wave: int | None,
        key: str,
        call: CallPlan,
    ) -> CustomStepInput:
        return CustomStepInput(
            step=name,
            action="compensate" if action == "compensate" else "run",
            at=point,
            release_id=context.release_id,
            system=context.system,
            environment=context.environment,
            version=context.version,
            versions=dict(context.versions),
            region=region,
            wave=wave,
            key=key,
            input=dict(call.input),
        )

    async def _call(
        self, call: CallPlan, payload: CustomStepInput, view: StepView, webhook_queue: str
    ) -> JsonValue:
        where = f" {payload.region}" if payload.region else ""
        summary = f"{payload.action} {payload.step} ({payload.at}{where})"
        if not isinstance(call, ActivityPlan):
            answer = await workflow.execute_activity(
                "ferryman.webhook",
                WebhookInput(call=call, payload=payload),
                task_queue=webhook_queue,
                result_type=WebhookResult,
                start_to_close_timeout=timedelta(seconds=call.timeout_s + 30),
                retry_policy=_retry(call.retries, ["WebhookSecret"]),
                summary=f"{summary}: {call.target}",
            )
            result: JsonValue = answer.model_dump(mode="json")
            return result
        wait = call.worker_wait_s
        waiting = False
        while True:
            task: asyncio.Future[JsonValue] = asyncio.ensure_future(
                workflow.execute_activity(
                    call.name,
                    payload,
                    task_queue=call.task_queue,
                    start_to_close_timeout=timedelta(seconds=call.timeout_s),
                    schedule_to_start_timeout=timedelta(seconds=wait),
                    heartbeat_timeout=(
                        timedelta(seconds=call.heartbeat_s) if call.heartbeat_s else None
                    ),
                    retry_policy=_retry(call.retries),
                    summary=f"{summary}: {call.target}",
                )
            )
            try:
                if waiting:
                    done, _ = await workflow.wait([task], timeout=wait + 2)
                    if not done:  # the schedule outlived its wait: a worker has taken it
                        waiting = False
                        await self._report(view.model_copy(update={"waiting": ""}))
                return _as_json(await task, call)
            except ActivityError as exc:
                if not _no_worker(exc):
                    raise
            except asyncio.CancelledError:
                task.cancel()
                raise
            if not waiting:
                waiting = True
                update = {
                    "status": "waiting-for-worker",
                    "waiting": f"waiting for a worker on {call.task_queue}",
                    "since": workflow.now().isoformat(),
                }
                view = view.model_copy(update=update)
                await self._report(view)
            wait = min(wait * 2, MAX_WORKER_WAIT_S)

    async def during(
        self,
        checks: Sequence[CustomStepPlan],
        seconds: float,
        stop: Callable[[], bool],
        run: Callable[[CustomStepPlan], Awaitable[StepRecord]],
    ) -> list[StepRecord]:
        """Run ``checks`` during a bake of ``seconds``: it ends when the time is up and all passed.

        Returns:
            The records of the checks that passed (all of them, unless ``stop()``
            cut the bake short: then the others were cancelled).

        Raises:
            ApplicationError: A check failed (the others are cancelled first).
        """
        tasks = [asyncio.ensure_future(run(check)) for check in checks]

        def failed() -> bool:
            return any(t.done() and not t.cancelled() and t.exception() for t in tasks)

        if seconds > 0:
            with contextlib.suppress(asyncio.TimeoutError):
                await workflow.wait_condition(
                    lambda: stop() or failed(), timeout=timedelta(seconds=seconds)
                )
        await workflow.wait_condition(lambda: stop() or failed() or all(t.done() for t in tasks))
        for task in tasks:
            if not task.done():
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        errors = [t.exception() for t in tasks if not t.cancelled() and t.exception()]
        if errors and not stop():
            raise errors[0]  # type: ignore[misc]
        return [t.result() for t in tasks if not t.cancelled() and t.exception() is None]


class StepBook:
    """A release's steps: their views, the log they write, and what a rollback undoes."""

    def __init__(self) -> None:
        self._views: dict[str, StepView] = {}
        self._done: list[StepRecord] = []

    def note(self, view: StepView) -> str | None:
        """Record a step's new view; the log line its change deserves, if any."""
        before = self._views.get(view.key)
        self._views[view.key] = view
        where = f" in {view.region}" if view.region else ""
        name = f"step {view.name} ({view.at}{where})"
        if before is not None and before.status == view.status and before.waiting == view.waiting:
            return None
        if view.status == "running" and before is not None and before.waiting and not view.waiting:
            return f"{name}: a worker took it"
        messages = {
            "running": f"{name}: {view.target}, input {_short(view.input)}",
            "waiting-for-worker": f"{name} is {view.waiting}",
            "succeeded": f"{name} succeeded: {_short(view.result)}",
            "failed": f"{name} failed: {view.error}",
            "compensating": f"{name}: compensating with {view.target}",
            "compensated": f"{name} compensated",
            "compensation-failed": f"{name}: compensation failed: {view.error}",
        }
        return messages.get(view.status)

    def done(self, record: StepRecord) -> None:
        """A release step succeeded (a step run again replaces its earlier record)."""
        self._done = [r for r in self._done if r.key != record.key] + [record]

    def undone(self, key: str) -> StepRecord | None:
        """Take a record out (by its call's key), to compensate it (None: nothing to undo)."""
        record = next((r for r in self._done if r.key == key), None)
        self._done = [r for r in self._done if r.key != key]
        return record

    def to_undo(self) -> list[tuple[int, str]]:
        """``(position, key)`` of every succeeded step that declares a compensation."""
        return [(r.position, r.key) for r in self._done if r.compensate is not None]

    def views(self) -> tuple[StepView, ...]:
        """Every step's latest view, in the order they began."""
        return tuple(self._views.values())

    def waiting(self) -> str:
        """What the steps wait for, e.g. ``a worker on payments-ops (step migrate-db)``."""
        return "; ".join(
            f"{v.waiting.removeprefix('waiting for ')} (step {v.name}"
            + (f" in {v.region})" if v.region else ")")
            for v in self._views.values()
            if v.waiting
        )

    def state(self) -> StepBookState:
        """What continue-as-new carries over."""
        return StepBookState(views=self.views(), done=tuple(self._done))

    def load(self, state: StepBookState) -> None:
        """Take over what the previous run knew."""
        self._views = {view.key: view for view in state.views}
        self._done = list(state.done)


class RegionSteps:
    """A region deploy's teams' steps: before-region, promotion, after-region."""

    def __init__(self) -> None:
        self._request: RegionDeployRequest | None = None
        self._queue = ""
        self._records: list[StepRecord] = []
        self._promoted = False
        self._enabled = True
        self._runner = StepRunner(self._forward)

    def setup(self, request: RegionDeployRequest, queue: str) -> None:
        """Take the deploy's request; webhooks go to the region's queue ``queue``."""
        self._request = request
        self._queue = queue

    def skip(self) -> None:
        """Nothing changes in this region (every service already live): run no step."""
        self._enabled = False

    @property
    def records(self) -> tuple[StepRecord, ...]:
        """The steps that succeeded here, in order."""
        return tuple(self._records)

    async def run_point(self, at: str) -> None:
        """Run, in spec order, the region's steps standing at ``at``.

        Raises:
            ApplicationError: A step failed.
        """
        request = self._request
        if request is None or not self._enabled:
            return
        for step in request.steps:
            if step.at != at:
                continue
            attempt = f".{request.attempt}" if request.attempt else ""
            record = await self._runner.run(
                step,
                self._context(),
                key=f"{request.release_id}/{request.region}/step/{step.name}{attempt}",
                webhook_queue=self._queue,
                region=request.region,
            )
            self._records.append(record)

    async def before(self, step: Step, version: str) -> None:
        """Before a switch step: run the ``promotion`` steps if ``step`` is the promotion."""
        if self._promoted or not promotes(step, version):
            return
        self._promoted = True
        await self.run_point("promotion")

    async def undo(self, records: Sequence[StepRecord], *, after_switch: bool) -> None:
        """Compensate, last first, the ``after-region`` records or (else) the others."""
        for record in reversed(records):
            if (record.at == "after-region") == after_switch:
                await self._runner.compensate(record, self._context(), webhook_queue=self._queue)

    def _context(self) -> ReleaseContext:
        request = self._request
        assert request is not None
        if request.context is not None:
            return request.context
        versions = {r.service.name: r.version for r in request.services}
        return ReleaseContext(
            release_id=request.release_id,
            system="",
            environment=request.environment,
            version=next(iter(versions.values()), ""),
            versions=versions,
        )

    async def _forward(self, view: StepView) -> None:
        """Send a step's view to the release (which may have ended: then it is dropped)."""
        request = self._request
        if request is None:
            return
        handle = workflow.get_external_workflow_handle(request.release_id)
        with contextlib.suppress(Exception):
            await handle.signal(STEP_PROGRESS, view)
