"""Canary analysis, A/B experiments and holds inside ``RegionDeployWorkflow`` (level 7).

``RegionDeployWorkflow`` hands the steps :data:`PROGRESSIVE` to
:class:`Progressive`, kept in this module so that region.py stays small:

- :class:`~ferryman.deploy.steps.Analyze`: every metric is looked at on its own
  interval by the ``ferryman.analyze`` activity (on the region's queue), which
  reads the metric source and runs the pure judge with the state this workflow
  keeps; :func:`~ferryman.analysis.runs.run_verdict` combines the metrics.
  ``pass`` goes on; ``fail`` raises, so the region deploy restores the region
  (the canary leaves the route table in one swap, canary and baseline are
  retired) and fails, and the release's saga takes over; ``inconclusive``
  holds until someone promotes (or the release is rolled back, which cancels
  the deploy).
- :class:`~ferryman.deploy.steps.Experiment`: the ``ferryman.experiment``
  activity reads both variants' counters each interval; the treatment winning
  goes on, the control winning fails the deploy (the control gets everything
  back), no difference holds for a human.
- :class:`~ferryman.deploy.steps.Hold`: a pause that a promotion cuts short.

Each hold uses up the promotion that releases it, so the next hold needs its
own. A promotion during an analysis or experiment ends it as passed (Argo's
``promote`` skips the current step); that decision is recorded too.

Every judgement is kept in :attr:`Progressive.records` (the ``analysis`` query)
and the latest verdict is shown in the service's view (``ferryman status``).
The judges' state lives here, in workflow variables rebuilt from history, so a
worker killed mid-analysis loses nothing: activities only read and judge.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Protocol

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from ferryman.analysis.models import Judgement, Verdict
    from ferryman.analysis.runs import (
        ExperimentState,
        MetricState,
        counts_totals,
        metric_key,
        run_verdict,
    )
    from ferryman.deploy.steps import Analyze, Experiment, Hold, Target
    from ferryman.temporal.activities.analysis import AnalysisActivities
    from ferryman.temporal.models.analysis import (
        AnalysisRecord,
        AnalysisView,
        AnalyzeInput,
        ExperimentInput,
        MetricJob,
    )
    from ferryman.temporal.models.region import Decision, RegionDeployRequest, RegionPhase

PROGRESSIVE = (Analyze, Experiment, Hold)
"""The step types :class:`Progressive` carries out."""

ANALYSIS_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    non_retryable_error_types=["UnknownMetricSource"],
)


class RegionHost(Protocol):
    """What :class:`Progressive` uses of the region deploy it runs in."""

    _request: RegionDeployRequest | None
    _queue: str
    _phase: RegionPhase

    def _where(self) -> dict[str, str]: ...

    def _promotion_pending(self) -> bool: ...

    def _take_promotion(self) -> Decision | None: ...

    async def _hold_promotion(self, version: str) -> None: ...

    def _set(self, service: str, **changes: object) -> None: ...


class Progressive:
    """Runs the analysis, experiment and hold steps of one region deploy.

    Args:
        host: The region deploy workflow (its queue, phase, promotion and views).
    """

    def __init__(self, host: RegionHost) -> None:
        self._host = host
        self.records: list[AnalysisRecord] = []

    def view(self, region: str) -> AnalysisView:
        """Every judgement so far, for the ``analysis`` query."""
        return AnalysisView(region=region, records=tuple(self.records))

    async def execute(self, target: Target, step: Analyze | Experiment | Hold) -> None:
        """Carry out one step; raises ``ApplicationError`` when the canary or treatment loses."""
        if isinstance(step, Hold):
            await self._hold(target, step)
        elif isinstance(step, Analyze):
            await self._analyze(target, step)
        else:
            await self._experiment(target, step)

    # --- holds and promotions ---------------------------------------------------------------

    def _take(self) -> Decision | None:
        """The promotion waiting to be used, now used up (a rejection raises)."""
        return self._host._take_promotion()

    async def _promoted_within(self, seconds: float) -> Decision | None:
        """Wait up to ``seconds`` for a promotion; returns it (used up) or None."""
        host = self._host
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                host._promotion_pending, timeout=timedelta(seconds=max(seconds, 0.001))
            )
        return self._take()

    async def _hold(self, target: Target, step: Hold) -> None:
        host = self._host
        if step.seconds is None:
            await self._await_promotion(target, "hold", "hold for promote")
            return
        host._phase = "paused"
        decision = await self._promoted_within(step.seconds)
        host._phase = "deploying"
        if decision is not None:
            self._note(target, "pause", "pass", f"pause cut short: promoted by {decision.by}")

    async def _await_promotion(self, target: Target, step: str, why: str) -> Decision:
        host = self._host
        host._phase = "awaiting-promotion"
        host._set(target.service, phase="hold", step=why)
        await host._hold_promotion(target.version)
        decision = self._take()
        assert decision is not None
        host._phase = "deploying"
        reason = f"promoted by {decision.by}" + (f": {decision.reason}" if decision.reason else "")
        self._note(target, step, "pass", reason)
        return decision

    # --- canary analysis --------------------------------------------------------------------

    async def _analyze(self, target: Target, step: Analyze) -> None:
        host = self._host
        label = step.label or "analysis"
        decision = self._take()
        if decision is not None:
            self._note(target, label, "pass", f"analysis skipped: promoted by {decision.by}")
            return
        metrics = [(metric_key(t, m), m) for t in step.templates for m in t.metrics]
        states = {key: MetricState() for key, _ in metrics}
        start = workflow.time()
        due = {key: start + (0.0 if counts_totals(m) else m.interval_s) for key, m in metrics}
        while True:
            waiting = [(key, m) for key, m in metrics if not states[key].decided]
            if waiting:
                wake = min(due[key] for key, _ in waiting)
                if wake > workflow.time():
                    decision = await self._promoted_within(wake - workflow.time())
                    if decision is not None:
                        reason = f"analysis ended early: promoted by {decision.by}"
                        self._note(target, label, "pass", reason)
                        return
                now = workflow.time()
                jobs = [
                    MetricJob(key=key, metric=m, state=states[key])
                    for key, m in waiting
                    if due[key] <= now + 0.001
                ]
                if not jobs:
                    continue
                output = await workflow.execute_activity_method(
                    AnalysisActivities.analyze,
                    AnalyzeInput(
                        **host._where(),
                        region=self._region,
                        service=target.service,
                        sides=step.sides,
                        jobs=tuple(jobs),
                    ),
                    task_queue=host._queue,
                    start_to_close_timeout=timedelta(minutes=2),
                    schedule_to_close_timeout=timedelta(minutes=10),
                    retry_policy=ANALYSIS_RETRY,
                    summary=f"{label}: {target.service} {', '.join(j.key for j in jobs)}",
                )
                now = workflow.time()
                for job, state in zip(jobs, output.states, strict=True):
                    states[job.key] = state
                    due[job.key] = max(due[job.key] + job.metric.interval_s, now)
                    if state.judgement is not None:
                        self._record(target, label, job.key, state.judgement)
            verdict = run_verdict(step.templates, states, step.on_no_data)
            if verdict.verdict == "continue" and waiting:
                continue
            judgement = Judgement(
                metric="run",
                judge="run",
                verdict=verdict.verdict,
                statistics={} if verdict.score is None else {"score": verdict.score},
                reason=verdict.reason,
            )
            self._record(target, label, "run", judgement)
            if verdict.verdict == "pass":
                return
            if verdict.verdict == "fail":
                raise ApplicationError(
                    f"{label} failed: {verdict.reason}", type="AnalysisFailed", non_retryable=True
                )
            await self._await_promotion(target, label, f"{label} {verdict.verdict}: hold")
            return

    # --- experiments ------------------------------------------------------------------------

    async def _experiment(self, target: Target, step: Experiment) -> None:
        host = self._host
        label = "experiment"
        state = ExperimentState()
        while True:
            state = await workflow.execute_activity_method(
                AnalysisActivities.experiment,
                ExperimentInput(
                    **host._where(),
                    region=self._region,
                    service=target.service,
                    control=step.control,
                    treatment=step.treatment,
                    plan=step.plan,
                    state=state,
                ),
                task_queue=host._queue,
                start_to_close_timeout=timedelta(minutes=2),
                schedule_to_close_timeout=timedelta(minutes=10),
                retry_policy=ANALYSIS_RETRY,
                summary=f"experiment: {target.service} {step.treatment} vs {step.control}",
            )
            judgement = state.judgement
            assert judgement is not None
            self._record(target, label, "conversion", judgement)
            if judgement.verdict == "pass":
                return
            if judgement.verdict == "fail":
                winner = f"{state.winner} wins: " if state.winner else ""
                raise ApplicationError(
                    f"experiment: {winner}{judgement.reason}",
                    type="ExperimentLost",
                    non_retryable=True,
                )
            if judgement.verdict != "continue":
                await self._await_promotion(target, label, f"experiment {judgement.verdict}: hold")
                return
            decision = await self._promoted_within(step.plan.interval_s)
            if decision is not None:
                self._note(target, label, "pass", f"experiment ended: promoted by {decision.by}")
                return

    # --- records ----------------------------------------------------------------------------

    @property
    def _region(self) -> str:
        request = self._host._request
        return request.region if request else ""

    def _record(self, target: Target, step: str, key: str, judgement: Judgement) -> None:
        self.records.append(
            AnalysisRecord(
                at=workflow.now().isoformat(),
                service=target.service,
                step=step,
                key=key,
                judgement=judgement,
            )
        )
        self._host._set(target.service, analysis=f"{key} {judgement.verdict}: {judgement.reason}")

    def _note(self, target: Target, step: str, verdict: Verdict, reason: str) -> None:
        """Record a human's decision (or a pause cut short) among the judgements."""
        judgement = Judgement(metric="decision", judge="decision", verdict=verdict, reason=reason)
        self._record(target, step, "decision", judgement)
