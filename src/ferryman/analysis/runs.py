"""Analysis runs as the engine drives them: per-metric state, measurements, one verdict (pure).

A canary's ``analysis`` step judges every metric of its templates, each at its
own interval, until the run is decided; an experiment step compares the
conversion rates of its variants. The work splits three ways:

- the analysis activity *measures* (reads a metric source) into a
  :class:`Measurement`, or the variants' counter totals into :class:`Tally`;
- :func:`judge_metric` and :func:`experiment_step` (here, pure) turn one
  measurement and the state the workflow kept into the next state, whose
  ``judgement`` is the metric's latest :class:`~ferryman.analysis.Judgement`;
- :func:`run_verdict` (here, pure) combines the metrics' judgements into the
  step's verdict: a failing metric fails the run at once; otherwise the run
  waits for every metric, is inconclusive if any is, and passes when all pass.
  Mann-Whitney metrics are scored together (:func:`~ferryman.analysis.score_run`)
  once each has its window; ``no-data`` becomes what the policy says.

Counts (requests and errors, exposures and conversions) are read as totals and
differenced here against the totals of the previous look, so consecutive looks
neither overlap nor leave gaps whatever the timing of the activity; the first
look of a counting metric only records where counting starts.

Example::

    state = MetricState()
    state = judge_metric(metric, sides, state, Measurement(totals={...}))  # marks the start
    state = judge_metric(metric, sides, state, Measurement(totals={...}))  # judges
    run_verdict([template], {metric_key(template, metric): state}).verdict
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from pydantic import Field

from ferryman.analysis.experiment import ExperimentConfig, Variant, analyze_experiment
from ferryman.analysis.mann_whitney import MannWhitneyConfig, classify_metric
from ferryman.analysis.models import (
    Frozen,
    Judgement,
    NoDataPolicy,
    SampleSummary,
    Verdict,
    apply_no_data,
    finite,
)
from ferryman.analysis.scoring import ScoredMetric, score_run
from ferryman.analysis.sequential import (
    LatencyObservation,
    RateObservation,
    SequentialConfig,
    SequentialState,
    sequential_step,
)
from ferryman.analysis.templates import MetricPlan, SourceKind, TemplatePlan
from ferryman.analysis.threshold import ThresholdConfig, ThresholdState, threshold_step

ERROR_LIMIT = 4
"""Consecutive source errors a metric tolerates (Argo's ``consecutiveErrorLimit`` default)."""


# --- canary analysis -------------------------------------------------------------------------


class Sides(Frozen):
    """Which versions an analysis compares.

    Attributes:
        canary: The new version.
        baseline: What it is compared with: fresh instances of the stable
            version, or the stable version itself.
        references: Versions whose error counts a ``rates`` test sets against
            the canary's (all of the old version's traffic: the baseline and
            the stable version); empty means the baseline alone.
    """

    canary: str
    baseline: str
    references: tuple[str, ...] = ()

    @property
    def compared(self) -> tuple[str, ...]:
        """The versions a rates test counts as the baseline."""
        return self.references or (self.baseline,)


class Counts(Frozen):
    """Total requests and server errors of one version, as a counter reads now."""

    requests: float = Field(default=0.0, ge=0)
    errors: float = Field(default=0.0, ge=0)


class Measurement(Frozen):
    """What the activity read for one metric at one look.

    Attributes:
        value: Threshold: the canary's value (a list when the query gives several).
        canary: Mann-Whitney and latency: the canary's value over the interval.
        baseline: The baseline's value over the interval.
        totals: Rates: total requests and errors per version now.
        error: Why the source gave nothing (it failed or refused); ``None`` with
            no values means it had no data.
    """

    value: float | list[float] | None = None
    canary: float | None = None
    baseline: float | None = None
    totals: dict[str, Counts] | None = None
    error: str | None = None


class MetricState(Frozen):
    """What the workflow keeps for one metric between looks.

    Attributes:
        threshold: The threshold judge's state.
        sequential: The sequential judge's state.
        canary_values: Mann-Whitney: the canary's value per bucket (``None``: no data).
        baseline_values: Mann-Whitney: the baseline's value per bucket.
        totals: Rates: the totals read at the previous look (``None`` before the first).
        measured_at: Unix time of the previous look (the activity's clock).
        looks: Looks that counted (a rates metric's first look only marks the start).
        consecutive_errors: Looks in a row the source failed.
        judgement: The latest judgement; ``None`` before the first look.
    """

    threshold: ThresholdState = ThresholdState()
    sequential: SequentialState = SequentialState()
    canary_values: tuple[float | None, ...] = ()
    baseline_values: tuple[float | None, ...] = ()
    totals: dict[str, Counts] | None = None
    measured_at: float | None = None
    looks: int = 0
    consecutive_errors: int = 0
    judgement: Judgement | None = None

    @property
    def verdict(self) -> Verdict:
        """The latest verdict (``continue`` before the first look)."""
        return "continue" if self.judgement is None else self.judgement.verdict

    @property
    def decided(self) -> bool:
        """Whether the metric needs no more looks."""
        return self.verdict != "continue"


class RunVerdict(Frozen):
    """What an analysis run concluded so far, with the reason a human reads."""

    verdict: Verdict
    reason: str
    score: float | None = None


def metric_key(template: TemplatePlan, metric: MetricPlan) -> str:
    """The key of a metric's state in a run: ``<template>/<metric>``."""
    return f"{template.name}/{metric.name}"


def counts_totals(metric: MetricPlan) -> bool:
    """Whether the metric reads totals (a sequential ``rates`` test) rather than a window."""
    return isinstance(metric.judge, SequentialConfig) and metric.judge.test == "rates"


def scheduled(template: TemplatePlan, interval_s: float | None, count: int | None) -> TemplatePlan:
    """``template`` with every metric's interval and count replaced where given.

    A canary's ``analysis`` step may set both for all the metrics of its templates.
    """
    if interval_s is None and count is None:
        return template
    changes: dict[str, float | int] = {}
    if interval_s is not None:
        changes["interval_s"] = interval_s
    if count is not None:
        changes["count"] = count
    metrics = []
    for metric in template.metrics:
        judge = metric.judge
        if isinstance(judge, ThresholdConfig | SequentialConfig):
            judge = judge.model_copy(update=changes)
        metrics.append(metric.model_copy(update={**changes, "judge": judge}))
    return template.model_copy(update={"metrics": tuple(metrics)})


def judge_metric(
    metric: MetricPlan, sides: Sides, state: MetricState, measurement: Measurement, now: float
) -> MetricState:
    """Take one look at a metric and judge it; the result's ``judgement`` is the verdict.

    Args:
        metric: The metric and its judge.
        sides: The canary and what it is compared with.
        state: What earlier looks left (``MetricState()`` at first).
        measurement: What the source gave at this look.
        now: Unix time of this look, remembered as ``measured_at``.
    """
    judge = metric.judge
    if isinstance(judge, ThresholdConfig):
        new, judgement = threshold_step(
            metric.name, judge, state.threshold, measurement.value, measurement.error
        )
        return state.model_copy(
            update={
                "threshold": new,
                "looks": state.looks + 1,
                "measured_at": now,
                "judgement": judgement,
            }
        )
    if measurement.error is not None:
        return _source_error(metric, state, measurement.error, now)
    state = state.model_copy(update={"consecutive_errors": 0, "measured_at": now})
    if isinstance(judge, MannWhitneyConfig):
        return _mann_whitney(metric, judge, state, measurement)
    if judge.test == "latency":
        observation = LatencyObservation(canary=measurement.canary, baseline=measurement.baseline)
        sequential, judgement = sequential_step(metric.name, judge, state.sequential, observation)
        return state.model_copy(
            update={"sequential": sequential, "looks": state.looks + 1, "judgement": judgement}
        )
    return _rates(metric, judge, sides, state, measurement)


def _source_error(metric: MetricPlan, state: MetricState, error: str, now: float) -> MetricState:
    errors = state.consecutive_errors + 1
    verdict: Verdict = "fail" if errors > ERROR_LIMIT else "continue"
    tail = (
        f"{errors} consecutive source errors > limit {ERROR_LIMIT}"
        if verdict == "fail"
        else f"source error {errors} of at most {ERROR_LIMIT} in a row"
    )
    judgement = Judgement(
        metric=metric.name,
        judge=metric.judge.kind,
        verdict=verdict,
        reason=f"{tail}: {error}",
    )
    return state.model_copy(
        update={"consecutive_errors": errors, "measured_at": now, "judgement": judgement}
    )


def _mann_whitney(
    metric: MetricPlan, judge: MannWhitneyConfig, state: MetricState, measurement: Measurement
) -> MetricState:
    canary = (*state.canary_values, _finite(measurement.canary))
    baseline = (*state.baseline_values, _finite(measurement.baseline))
    looks = state.looks + 1
    judgement = classify_metric(metric.name, judge, _nan(canary), _nan(baseline))
    if looks < metric.count:
        judgement = judgement.model_copy(
            update={
                "verdict": "continue",
                "reason": f"bucket {looks} of {metric.count}; so far {judgement.reason}",
            }
        )
    return state.model_copy(
        update={
            "canary_values": canary,
            "baseline_values": baseline,
            "looks": looks,
            "judgement": judgement,
        }
    )


def _rates(
    metric: MetricPlan,
    judge: SequentialConfig,
    sides: Sides,
    state: MetricState,
    measurement: Measurement,
) -> MetricState:
    totals = measurement.totals or {}
    if state.totals is None:
        judgement = Judgement(
            metric=metric.name,
            judge="sequential",
            verdict="continue",
            reason="counting requests and errors from now",
        )
        return state.model_copy(update={"totals": dict(totals), "judgement": judgement})
    canary = _increase(state.totals, totals, (sides.canary,))
    baseline = _increase(state.totals, totals, sides.compared)
    observation = RateObservation(
        canary_requests=canary[0],
        canary_errors=canary[1],
        baseline_requests=baseline[0],
        baseline_errors=baseline[1],
    )
    sequential, judgement = sequential_step(metric.name, judge, state.sequential, observation)
    return state.model_copy(
        update={
            "sequential": sequential,
            "totals": dict(totals),
            "looks": state.looks + 1,
            "judgement": judgement,
        }
    )


def _increase(
    before: Mapping[str, Counts], now: Mapping[str, Counts], versions: Sequence[str]
) -> tuple[int, int]:
    """Requests and errors of ``versions`` since ``before``; a counter that went back restarts."""
    requests = errors = 0
    for version in versions:
        old, new = before.get(version, Counts()), now.get(version, Counts())
        restarted = new.requests < old.requests or new.errors < old.errors
        start = Counts() if restarted else old
        more = round(new.requests - start.requests)
        requests += more
        errors += min(more, round(new.errors - start.errors))
    return requests, errors


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _nan(values: Sequence[float | None]) -> list[float]:
    return [math.nan if v is None else v for v in values]


def run_verdict(
    templates: Sequence[TemplatePlan],
    states: Mapping[str, MetricState],
    on_no_data: NoDataPolicy | None = None,
) -> RunVerdict:
    """Combine the latest judgements of a run's metrics into one verdict.

    Args:
        templates: The run's templates.
        states: Each metric's state by :func:`metric_key`.
        on_no_data: What ``no-data`` becomes; ``None`` takes each template's ``no_data``.

    Returns:
        ``fail`` as soon as one metric (or a template's score) fails; ``continue``
        while any metric needs more looks; then ``inconclusive`` if any is, else
        ``pass``.
    """
    outcomes: list[tuple[str, Verdict, str]] = []
    score: float | None = None
    for template in templates:
        policy = on_no_data or template.no_data
        scored: list[ScoredMetric] = []
        waiting = False
        for metric in template.metrics:
            state = states.get(metric_key(template, metric), MetricState())
            name = metric_key(template, metric)
            if isinstance(metric.judge, MannWhitneyConfig):
                if state.verdict == "fail" and state.consecutive_errors > ERROR_LIMIT:
                    assert state.judgement is not None
                    outcomes.append((name, "fail", state.judgement.reason))
                elif not state.decided or state.judgement is None:
                    waiting = True
                else:
                    scored.append(
                        ScoredMetric(
                            judgement=state.judgement,
                            group=metric.judge.group,
                            muted=metric.judge.muted,
                        )
                    )
                continue
            reason = state.judgement.reason if state.judgement else "no look yet"
            outcomes.append((name, apply_no_data(state.verdict, policy), reason))
        if scored and not waiting:
            result = score_run(scored, template.score)
            score = result.score
            outcomes.append(
                (
                    f"{template.name}/score",
                    apply_no_data(result.judgement.verdict, policy),
                    result.judgement.reason,
                )
            )
        elif waiting:
            outcomes.append((f"{template.name}/score", "continue", "collecting buckets"))
    return _combine(outcomes, score)


def _combine(outcomes: Sequence[tuple[str, Verdict, str]], score: float | None) -> RunVerdict:
    for wanted in ("fail", "continue", "inconclusive"):
        found = [(name, reason) for name, verdict, reason in outcomes if verdict == wanted]
        if found:
            name, reason = found[0]
            if wanted == "continue":
                waiting = ", ".join(n for n, _ in found)
                return RunVerdict(verdict="continue", reason=f"waiting for {waiting}", score=score)
            return RunVerdict(verdict=wanted, reason=f"{name}: {reason}", score=score)
    if not outcomes:
        return RunVerdict(verdict="no-data", reason="no metrics to judge", score=score)
    names = ", ".join(name for name, _, _ in outcomes)
    return RunVerdict(verdict="pass", reason=f"passed: {names}", score=score)


# --- A/B experiments ---------------------------------------------------------------------------


class Tally(Frozen):
    """Total exposures and conversions of one variant, as its counters read now."""

    exposures: float = Field(default=0.0, ge=0)
    conversions: float = Field(default=0.0, ge=0)


class ExperimentPlan(Frozen):
    """How an experiment step measures and decides.

    Attributes:
        source: Where the services' own counters are read.
        exposures: The counter of exposures (e.g. ``shop_checkouts_total``).
        conversions: The counter of conversions (e.g. ``shop_conversions_total``).
        matchers: Extra label values the counters must have.
        config: The test: level, fixed or sequential stopping, equivalence margin.
        min_exposures: Fixed horizon: decide once every variant has this many exposures.
        interval_s: Seconds between looks.
        count: Looks at most; undecided then, the experiment is inconclusive.
        no_data: What a look without exposures at the end becomes.
    """

    source: SourceKind = "local"
    exposures: str = Field(min_length=1)
    conversions: str = Field(min_length=1)
    matchers: dict[str, str] = Field(default_factory=dict)
    config: ExperimentConfig = ExperimentConfig()
    min_exposures: int = Field(default=100, ge=1)
    interval_s: float = Field(default=10.0, gt=0)
    count: int = Field(default=60, ge=1)
    no_data: NoDataPolicy = "pause"


class ExperimentState(Frozen):
    """What the workflow keeps between looks at an experiment.

    Attributes:
        start: Each variant's totals when the experiment began (``None`` before).
        looks: Looks that counted.
        consecutive_errors: Looks in a row the source failed.
        judgement: The latest judgement (treatment as ``canary``, control as ``baseline``).
        winner: The variant the latest decided look prefers, if any.
    """

    start: dict[str, Tally] | None = None
    looks: int = 0
    consecutive_errors: int = 0
    judgement: Judgement | None = None
    winner: str | None = None


def experiment_step(
    plan: ExperimentPlan,
    control: str,
    treatment: str,
    state: ExperimentState,
    totals: Mapping[str, Tally] | None,
    error: str | None = None,
) -> ExperimentState:
    """Take one look at an experiment and judge it.

    The verdict is ``pass`` when the treatment converts better, ``fail`` when the
    control does, ``inconclusive`` when there is no difference (a human decides)
    or no decision by the last look, ``no-data`` without exposures at the end,
    and ``continue`` otherwise. A fixed-horizon test decides only once every
    variant has ``min_exposures``: looking earlier would inflate its error rate.

    Args:
        plan: Counters, test and horizon.
        control: The control's version label.
        treatment: The treatment's version label.
        state: What earlier looks left.
        totals: Each version's counter totals now; ``None`` when the source failed.
        error: Why the source failed.
    """
    if error is not None or totals is None:
        errors = state.consecutive_errors + 1
        verdict: Verdict = "fail" if errors > ERROR_LIMIT else "continue"
        reason = f"source error {errors} in a row (limit {ERROR_LIMIT}): {error or 'no answer'}"
        judgement = Judgement(
            metric="conversion", judge="experiment", verdict=verdict, reason=reason
        )
        return state.model_copy(update={"consecutive_errors": errors, "judgement": judgement})
    if state.start is None:
        judgement = Judgement(
            metric="conversion",
            judge="experiment",
            verdict="continue",
            reason="counting exposures and conversions from now",
        )
        return state.model_copy(
            update={"start": dict(totals), "consecutive_errors": 0, "judgement": judgement}
        )
    variants = [_variant(name, state.start, totals) for name in (control, treatment)]
    looks = state.looks + 1
    report = analyze_experiment(variants, plan.config)
    comparison = report.comparisons[0]
    last = looks >= plan.count
    short = min(v.exposures for v in variants) < plan.min_exposures
    reason = report.reason
    if plan.config.stopping == "fixed" and short:
        verdict = "inconclusive" if last else "continue"
        least = min(v.exposures for v in variants)
        reason = f"{least} of {plan.min_exposures} exposures per variant; interim: {reason}"
        if last and least == 0:
            verdict = apply_no_data("no-data", plan.no_data)
        winner = None
    else:
        verdict, winner = _decision(report.verdict, report.winner, control, treatment, last)
        if verdict == "no-data":
            verdict = apply_no_data("no-data", plan.no_data)
    judgement = Judgement(
        metric="conversion",
        judge="experiment",
        verdict=verdict,
        canary=_summary(variants[1]),
        baseline=_summary(variants[0]),
        statistics=finite(
            {
                "difference": comparison.difference,
                "lift": comparison.lift,
                "lower": comparison.lower,
                "upper": comparison.upper,
                "p_value": comparison.p_value,
                "looks": looks,
            }
        ),
        reason=reason,
    )
    return ExperimentState(
        start=state.start, looks=looks, judgement=judgement, winner=winner, consecutive_errors=0
    )


def _decision(
    verdict: Verdict, winner: str | None, control: str, treatment: str, last: bool
) -> tuple[Verdict, str | None]:
    if verdict == "pass":
        if winner == treatment:
            return "pass", winner
        if winner == control:
            return "fail", winner
        return "inconclusive", None
    if verdict == "no-data":
        return ("no-data" if last else "continue"), None
    return ("inconclusive" if last else "continue"), None


def _variant(name: str, start: Mapping[str, Tally], now: Mapping[str, Tally]) -> Variant:
    old, new = start.get(name, Tally()), now.get(name, Tally())
    restarted = new.exposures < old.exposures or new.conversions < old.conversions
    base = Tally() if restarted else old
    exposures = max(0, round(new.exposures - base.exposures))
    conversions = min(exposures, max(0, round(new.conversions - base.conversions)))
    return Variant(name=name, exposures=exposures, conversions=conversions)


def _summary(variant: Variant) -> SampleSummary:
    return SampleSummary(n=variant.exposures, mean=variant.rate, events=variant.conversions)
