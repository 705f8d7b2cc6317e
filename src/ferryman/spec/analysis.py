"""``analysis.templates`` of the release spec: metrics, their sources, queries and judges.

The YAML spelling is kebab case, as in the rest of the spec; :func:`to_plan`
converts a template into the engine's :class:`ferryman.analysis.TemplatePlan`
(snake case, seconds). Example::

    analysis:
      templates:
        error-rate:
          metrics:
            - name: errors
              source: local
              query: {kind: error_rate}
              judge: {sequential: {alpha: 0.01, margin: 0.005}}
            - name: p50
              source: prometheus
              query: 'histogram_quantile(0.5, sum by (le) (rate(x{version="{{version}}"}[1m])))'
              judge: {threshold: {success-condition: "result < 0.2", failure-limit: 2}}
          interval-seconds: 10
          count: 30
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from ferryman.analysis.expressions import ExpressionError
from ferryman.analysis.expressions import parse as parse_condition
from ferryman.analysis.mann_whitney import Direction, MannWhitneyConfig, NanStrategy
from ferryman.analysis.models import NoDataPolicy
from ferryman.analysis.scoring import ScoreConfig
from ferryman.analysis.sequential import SequentialConfig
from ferryman.analysis.templates import (
    PLACEHOLDERS,
    AnalysisQuery,
    JudgeConfig,
    MetricPlan,
    QueryKind,
    SourceKind,
    TemplatePlan,
    placeholders,
)
from ferryman.analysis.threshold import ThresholdConfig
from ferryman.spec.base import _Frozen, check_name
from ferryman.spec.duration import Seconds


class QuerySpec(_Frozen):
    """A source-independent query (``ferryman.metrics.MetricQuery`` in YAML)."""

    kind: QueryKind
    matchers: dict[str, str] = Field(default_factory=dict)
    by: tuple[str, ...] = ("version",)
    quantile: float = Field(default=0.99, ge=0, le=1)


class ThresholdSpec(_Frozen):
    """Argo-style conditions and limits."""

    success_condition: str | None = Field(default=None, alias="success-condition")
    failure_condition: str | None = Field(default=None, alias="failure-condition")
    failure_limit: int = Field(default=0, ge=0, alias="failure-limit")
    inconclusive_limit: int = Field(default=0, ge=0, alias="inconclusive-limit")
    consecutive_error_limit: int = Field(default=4, ge=0, alias="consecutive-error-limit")

    @field_validator("success_condition", "failure_condition")
    @classmethod
    def _condition(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_condition(value)
            except ExpressionError as error:
                raise ValueError(str(error)) from None
        return value

    @model_validator(mode="after")
    def _one_condition(self) -> ThresholdSpec:
        if self.success_condition is None and self.failure_condition is None:
            raise ValueError("a threshold needs a success-condition or a failure-condition")
        return self


class MannWhitneySpec(_Frozen):
    """Kayenta-style classification of one metric."""

    direction: Direction = "increase"
    confidence: float = Field(default=0.98, gt=0.5, lt=1)
    tolerance: float = Field(default=0.25, ge=0)
    allowed_increase: float = Field(default=1.0, ge=1, alias="allowed-increase")
    critical_increase: float | None = Field(default=None, gt=1, alias="critical-increase")
    allowed_decrease: float = Field(default=1.0, gt=0, le=1, alias="allowed-decrease")
    critical_decrease: float | None = Field(default=None, ge=0, lt=1, alias="critical-decrease")
    nan_strategy: NanStrategy = Field(default="remove", alias="nan-strategy")
    critical: bool = False
    muted: bool = False
    group: str = "default"
    min_samples: int = Field(default=3, ge=1, alias="min-samples")


class SequentialSpec(_Frozen):
    """ferryman's always-valid sequential test; the query's kind picks rates or latency."""

    alpha: float = Field(default=0.01, gt=0, lt=0.5)
    margin: float | None = Field(default=None, gt=0)
    tolerance: float = Field(default=0.0, ge=0)
    promote_early: bool = Field(default=True, alias="promote-early")


class JudgeSpec(_Frozen):
    """Exactly one judge."""

    threshold: ThresholdSpec | None = None
    mann_whitney: MannWhitneySpec | None = Field(default=None, alias="mann-whitney")
    sequential: SequentialSpec | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> JudgeSpec:
        given = [self.threshold, self.mann_whitney, self.sequential]
        if sum(judge is not None for judge in given) != 1:
            raise ValueError("give exactly one judge: threshold, mann-whitney or sequential")
        return self


class MetricSpec(_Frozen):
    """One metric of a template."""

    name: str = Field(min_length=1)
    source: SourceKind = "local"
    query: QuerySpec | str
    judge: JudgeSpec
    interval_seconds: Seconds | None = Field(default=None, gt=0, alias="interval-seconds")
    count: int | None = Field(default=None, ge=1)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name(value)

    @model_validator(mode="after")
    def _query_fits(self) -> MetricSpec:
        if isinstance(self.query, str):
            if self.source == "local":
                raise ValueError(
                    "the local source takes a query mapping such as {kind: error_rate}, not PromQL"
                )
            if not self.query.strip():
                raise ValueError("query must not be empty")
        unknown = sorted(placeholders(_query(self.query)) - set(PLACEHOLDERS))
        if unknown:
            raise ValueError(
                f"unknown placeholder {{{{{unknown[0]}}}}}; use {', '.join(PLACEHOLDERS)}"
            )
        if self.judge.sequential is not None:
            kind = None if isinstance(self.query, str) else self.query.kind
            if kind not in ("error_rate", "errors", "latency"):
                raise ValueError(
                    "a sequential judge needs a query mapping of kind error_rate, errors"
                    " or latency (it queries counts per version itself)"
                )
            margin = self.judge.sequential.margin
            if kind != "latency" and margin is not None and margin >= 1:
                raise ValueError(
                    f"a sequential margin on {kind} is an increase of the error rate below 1"
                    f" (0.005 = +0.5 pp), got {margin:g}"
                )
        return self


class ScoreSpec(_Frozen):
    """Score thresholds and group weights for mann-whitney metrics."""

    pass_score: float = Field(default=75.0, ge=0, le=100, alias="pass")
    marginal_score: float = Field(default=50.0, ge=0, le=100, alias="marginal")
    groups: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _order(self) -> ScoreSpec:
        if self.marginal_score > self.pass_score:
            raise ValueError(
                f"marginal {self.marginal_score:g} must not be above pass {self.pass_score:g}"
            )
        for group, weight in self.groups.items():
            if weight < 0:
                raise ValueError(f"group {group!r} has a negative weight {weight:g}")
        return self


class TemplateSpec(_Frozen):
    """An analysis template: metrics judged together."""

    metrics: tuple[MetricSpec, ...] = Field(min_length=1)
    interval_seconds: Seconds = Field(default=60.0, gt=0, alias="interval-seconds")
    count: int = Field(default=10, ge=1)
    no_data: NoDataPolicy = Field(default="pause", alias="no-data")
    score: ScoreSpec = Field(default_factory=ScoreSpec)

    @model_validator(mode="after")
    def _metrics(self) -> TemplateSpec:
        names = [m.name for m in self.metrics]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"metric {repeated[0]!r} appears more than once")
        groups = {m.judge.mann_whitney.group for m in self.metrics if m.judge.mann_whitney}
        missing = sorted(groups - set(self.score.groups))
        if self.score.groups and missing:
            raise ValueError(f"score groups give no weight to group {missing[0]!r}")
        return self


class AnalysisSpec(_Frozen):
    """The ``analysis`` section: named templates."""

    templates: dict[str, TemplateSpec] = Field(default_factory=dict)

    @field_validator("templates")
    @classmethod
    def _names(cls, value: dict[str, TemplateSpec]) -> dict[str, TemplateSpec]:
        for name in value:
            check_name(name)
        return value


def to_plan(name: str, template: TemplateSpec) -> TemplatePlan:
    """Convert a template into the engine's plan model.

    Args:
        name: The template's name.
        template: The validated template.
    """
    return TemplatePlan(
        name=name,
        metrics=tuple(_metric_plan(m, template) for m in template.metrics),
        no_data=template.no_data,
        score=ScoreConfig(
            pass_score=template.score.pass_score,
            marginal_score=template.score.marginal_score,
            group_weights=dict(template.score.groups),
        ),
    )


def to_plans(analysis: AnalysisSpec) -> dict[str, TemplatePlan]:
    """Every template of the section, converted."""
    return {name: to_plan(name, t) for name, t in analysis.templates.items()}


def _query(query: QuerySpec | str) -> AnalysisQuery | str:
    if isinstance(query, str):
        return query
    return AnalysisQuery(
        kind=query.kind, matchers=dict(query.matchers), by=query.by, quantile=query.quantile
    )


def _metric_plan(metric: MetricSpec, template: TemplateSpec) -> MetricPlan:
    interval_s = metric.interval_seconds or template.interval_seconds
    count = metric.count or template.count
    return MetricPlan(
        name=metric.name,
        source=metric.source,
        query=_query(metric.query),
        judge=_judge(metric, interval_s, count),
        interval_s=interval_s,
        count=count,
    )


def _judge(metric: MetricSpec, interval_s: float, count: int) -> JudgeConfig:
    judge = metric.judge
    if judge.threshold is not None:
        return ThresholdConfig(**judge.threshold.model_dump(), interval_s=interval_s, count=count)
    if judge.mann_whitney is not None:
        return MannWhitneyConfig(**judge.mann_whitney.model_dump())
    assert judge.sequential is not None
    kind: Literal["rates", "latency"] = (
        "latency"
        if not isinstance(metric.query, str) and metric.query.kind == "latency"
        else "rates"
    )
    return SequentialConfig(
        **judge.sequential.model_dump(), test=kind, interval_s=interval_s, count=count
    )
