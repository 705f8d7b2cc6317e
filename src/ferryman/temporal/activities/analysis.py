"""Analysis activities: read the metric sources, run the pure judges, return the new state.

They run on the region's queue, next to the region's routers and metric
sources. The workflow passes in the state it keeps for each metric and stores
what comes back, so a retried activity simply reads the sources again: counts
are totals differenced against the totals in that state, never accumulated here.

A source that fails is a measurement error the judges count (Argo's
consecutive-error limit), not a failed activity; only a metric source this
worker does not know fails the activity, for good.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from temporalio import activity
from temporalio.exceptions import ApplicationError

from ferryman.analysis.mann_whitney import MannWhitneyConfig
from ferryman.analysis.runs import (
    Counts,
    ExperimentState,
    Measurement,
    Sides,
    Tally,
    experiment_step,
    judge_metric,
)
from ferryman.analysis.templates import AnalysisQuery, MetricPlan, SourceKind, render_query
from ferryman.analysis.threshold import ThresholdConfig
from ferryman.metrics.base import MetricQuery, MetricSourceError, NoData, Sample
from ferryman.metrics.counters import Source, router_totals, service_totals
from ferryman.metrics.local import LocalMetrics
from ferryman.metrics.prometheus import PrometheusMetrics
from ferryman.temporal.models.analysis import (
    AnalyzeInput,
    AnalyzeOutput,
    ExperimentInput,
    MetricJob,
)


class MetricSources:
    """The metric sources a worker can read.

    Args:
        agent_url: The local agent (source ``local``); ``None`` when this worker has none.
        prometheus_url: Prometheus (source ``prometheus``); ``None`` when not configured.
    """

    def __init__(self, agent_url: str | None = None, prometheus_url: str | None = None) -> None:
        self.agent_url = agent_url
        self.prometheus_url = prometheus_url

    def get(self, kind: SourceKind) -> Source:
        """The source of ``kind``.

        Raises:
            ApplicationError: Not configured on this worker (not retried).
        """
        if kind == "local" and self.agent_url:
            return LocalMetrics(self.agent_url)
        if kind == "prometheus" and self.prometheus_url:
            return PrometheusMetrics(self.prometheus_url)
        hint = (
            "start the worker with --prometheus-url (or FERRYMAN_PROMETHEUS_URL)"
            if kind == "prometheus"
            else "start the worker with --agent-url"
        )
        raise ApplicationError(
            f"metric source {kind!r} is not configured on this worker: {hint}",
            type="UnknownMetricSource",
            non_retryable=True,
        )


class AnalysisActivities:
    """Metric-reading activities of canary analysis and experiments.

    Args:
        sources: The metric sources this worker reads.
    """

    def __init__(self, sources: MetricSources) -> None:
        self._sources = sources

    @activity.defn(name="ferryman.analyze")
    async def analyze(self, data: AnalyzeInput) -> AnalyzeOutput:
        """Look at each metric once and judge it with the state the workflow kept."""
        base = {"environment": data.environment, "service": data.service, "region": data.region}
        states = []
        for job in data.jobs:
            source = self._sources.get(job.metric.source)
            now = time.time()
            measurement = await measure(source, job, data.sides, base, now)
            states.append(judge_metric(job.metric, data.sides, job.state, measurement, now))
            activity.heartbeat(job.key)
        return AnalyzeOutput(states=tuple(states))

    @activity.defn(name="ferryman.experiment")
    async def experiment(self, data: ExperimentInput) -> ExperimentState:
        """Read both variants' exposures and conversions and judge the experiment."""
        plan = data.plan
        source = self._sources.get(plan.source)
        matchers = {
            "environment": data.environment,
            "service": data.service,
            "region": data.region,
            **plan.matchers,
        }
        try:
            exposures = await service_totals(source, plan.exposures, matchers)
            conversions = await service_totals(source, plan.conversions, matchers)
        except MetricSourceError as error:
            return experiment_step(plan, data.control, data.treatment, data.state, None, str(error))
        totals = {
            version: Tally(exposures=count, conversions=conversions.get(version, 0.0))
            for version, count in exposures.items()
        }
        return experiment_step(plan, data.control, data.treatment, data.state, totals)

    def all(self) -> list[Callable[..., object]]:
        """Every activity of this class, for registering on a worker."""
        return [self.analyze, self.experiment]


async def measure(
    source: Source, job: MetricJob, sides: Sides, base: dict[str, str], now: float
) -> Measurement:
    """What ``source`` says about one metric now.

    Args:
        source: The metric's source.
        job: The metric and the state kept for it (its last look's time sets the window).
        sides: The canary and its baseline.
        base: Labels every query is narrowed to (environment, service, region).
        now: This look's time.
    """
    metric, state = job.metric, job.state
    window = metric.interval_s if state.measured_at is None else now - state.measured_at
    window = max(1.0, window)
    try:
        if isinstance(metric.judge, ThresholdConfig):
            samples = await _query(source, metric, sides.canary, base, window, keep_by=True)
            values = [sample.value for sample in samples]
            return Measurement(value=values[0] if len(values) == 1 else values)
        if isinstance(metric.judge, MannWhitneyConfig) or metric.judge.test == "latency":
            return Measurement(
                canary=await _scalar(source, metric, sides.canary, base, window),
                baseline=await _scalar(source, metric, sides.baseline, base, window),
            )
        rendered = render_query(metric.query, _placeholders(sides.canary, base))
        matchers = {**base, **_matchers(rendered)}
        matchers.pop("version", None)
        totals = await router_totals(source, matchers)
        return Measurement(totals={v: Counts(requests=r, errors=e) for v, (r, e) in totals.items()})
    except NoData:
        return Measurement()
    except MetricSourceError as error:
        return Measurement(error=str(error))
    except KeyError as error:
        return Measurement(error=f"placeholder {{{{{error.args[0]}}}}} has no value here")


async def _scalar(
    source: Source, metric: MetricPlan, version: str, base: dict[str, str], window: float
) -> float | None:
    try:
        samples = await _query(source, metric, version, base, window, keep_by=False)
    except NoData:
        return None
    return samples[0].value if samples else None


async def _query(
    source: Source,
    metric: MetricPlan,
    version: str,
    base: dict[str, str],
    window: float,
    *,
    keep_by: bool,
) -> list[Sample]:
    query = render_query(metric.query, _placeholders(version, base))
    if isinstance(query, str):
        return list(await source.query(query, window))
    fields = query.model_dump()
    fields["matchers"] = {**base, **query.matchers, "version": version}
    if not keep_by:
        fields["by"] = ()
    return list(await source.query(MetricQuery.model_validate(fields), window))


def _placeholders(version: str, base: dict[str, str]) -> dict[str, str]:
    return {"version": version, "service": base["service"], "region": base["region"]}


def _matchers(query: AnalysisQuery | str) -> dict[str, str]:
    return {} if isinstance(query, str) else dict(query.matchers)
