"""The ``canary`` and ``experiment`` strategies of a service, as written in ``ferryman.yaml``.

Canary steps use Argo Rollouts' words, one key per step::

    strategy:
      canary:
        baseline: fresh                 # fresh instances of the stable version, or: stable
        on-no-data: pause               # fail | pause | pass (default: each template's)
        progress-deadline: 2m
        scale-down-delay: 30s
        steps:
          - set-weight: 5
          - analysis: {templates: [error-rate], interval: 10s, count: 30}
          - pause: {duration: 1m}       # or pause: {} to wait for `ferryman promote`
          - set-header-route: {header: X-Beta, value: "1"}
          - set-mirror: {percent: 10}
          - set-weight: 50

An A/B experiment::

    strategy:
      experiment:
        percent: 50                     # or segment: {cookie: beta, value: "1"}
        metric: {exposures: shop_checkouts_total, conversions: shop_conversions_total}
        stopping: sequential            # or fixed (decides at min-exposures)
        interval: 10s
        count: 360

Durations are a number of seconds or a string such as ``500ms``, ``30s``, ``5m``,
``1h30m``. Template names are checked against ``analysis.templates`` by
``ferryman.spec.validate``.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from ferryman.analysis.models import NoDataPolicy
from ferryman.analysis.templates import SourceKind
from ferryman.spec.base import _Frozen
from ferryman.spec.duration import MAX_SECONDS, check_longest

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: object) -> object:
    """Seconds from ``30``, ``"30s"``, ``"5m"``, ``"1h30m"`` or ``"500ms"``; others pass through.

    Raises:
        ValueError: A string that is not a duration.
    """
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    parts = _PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"invalid duration {value!r}: use e.g. 30s, 5m, 1h30m or 500ms")
    return check_longest(sum(float(number) * _UNIT[unit] for number, unit in parts), value)


Duration = Annotated[float, BeforeValidator(parse_duration), Field(ge=0, le=MAX_SECONDS)]
"""A duration in seconds, written as a number or as ``30s``, ``5m``, ``1h``."""


class Segment(_Frozen):
    """A segment of requests: those with a header or a cookie of a given value."""

    header: str | None = Field(default=None, min_length=1)
    cookie: str | None = Field(default=None, min_length=1)
    value: str = Field(default="1", min_length=1)

    @model_validator(mode="after")
    def _one_of(self) -> Segment:
        if self.header is None and self.cookie is None:
            raise ValueError("a segment rule needs a 'header' or a 'cookie'")
        if self.header is not None and self.cookie is not None:
            raise ValueError("a segment rule takes a 'header' or a 'cookie', not both")
        return self


class PauseSpec(_Frozen):
    """``pause: {duration: 30s}`` waits; ``pause: {}`` holds until promoted."""

    duration: Duration | None = None


class AnalysisRef(_Frozen):
    """``analysis: {templates: [...], interval, count}``: judge the canary with templates."""

    templates: tuple[str, ...] = Field(min_length=1)
    interval: Duration | None = None
    count: int | None = Field(default=None, ge=1)

    @field_validator("interval")
    @classmethod
    def _positive(cls, value: float | None) -> float | None:
        if value is not None and value <= 0:
            raise ValueError("interval must be above 0")
        return value


class MirrorSpec(_Frozen):
    """``set-mirror: {percent: 10}``: copy a share of the requests to the canary."""

    percent: float = Field(ge=0, le=100)


class CanaryStepSpec(_Frozen):
    """One canary step: exactly one of its keys."""

    set_weight: int | None = Field(default=None, ge=0, le=100, alias="set-weight")
    pause: PauseSpec | None = None
    analysis: AnalysisRef | None = None
    set_header_route: Segment | None = Field(default=None, alias="set-header-route")
    set_mirror: MirrorSpec | None = Field(default=None, alias="set-mirror")

    @model_validator(mode="after")
    def _one_key(self) -> CanaryStepSpec:
        chosen = [name for name, value in self if value is not None]
        if len(chosen) != 1:
            keys = "set-weight, pause, analysis, set-header-route or set-mirror"
            raise ValueError(f"a canary step has exactly one key: {keys}")
        return self


class CanarySpec(_Frozen):
    """Level 7: a canary judged on live metrics, promoted step by step."""

    steps: tuple[CanaryStepSpec, ...] = Field(min_length=1)
    baseline: Literal["fresh", "stable"] = "fresh"
    on_no_data: NoDataPolicy | None = Field(default=None, alias="on-no-data")
    progress_deadline: Duration = Field(default=120.0, gt=0, alias="progress-deadline")
    scale_down_delay: Duration = Field(default=30.0, alias="scale-down-delay")

    @field_validator("steps")
    @classmethod
    def _weights_rise(cls, steps: tuple[CanaryStepSpec, ...]) -> tuple[CanaryStepSpec, ...]:
        last: tuple[int, int] | None = None
        for index, step in enumerate(steps):
            if step.set_weight is None:
                continue
            if last is not None and step.set_weight <= last[1]:
                raise ValueError(
                    f"set-weight must rise: steps[{index}] sets {step.set_weight}"
                    f" after steps[{last[0]}] set {last[1]}"
                )
            last = (index, step.set_weight)
        return steps


class ConversionSpec(_Frozen):
    """Where an experiment reads exposures and conversions: the services' own counters."""

    source: SourceKind = "local"
    exposures: str = Field(min_length=1)
    conversions: str = Field(min_length=1)
    matchers: dict[str, str] = Field(default_factory=dict)


class ExperimentSpec(_Frozen):
    """Level 7: an A/B experiment of the new version against the stable one."""

    percent: int | None = Field(default=None, ge=1, le=99)
    segment: Segment | None = None
    metric: ConversionSpec
    stopping: Literal["fixed", "sequential"] = "fixed"
    alpha: float = Field(default=0.05, gt=0, lt=0.5)
    equivalence: float = Field(default=0.005, gt=0)
    min_exposures: int = Field(default=1000, ge=1, alias="min-exposures")
    interval: Duration = Field(default=10.0, gt=0)
    count: int = Field(default=360, ge=1)
    on_no_data: NoDataPolicy = Field(default="pause", alias="on-no-data")
    progress_deadline: Duration = Field(default=120.0, gt=0, alias="progress-deadline")
    scale_down_delay: Duration = Field(default=30.0, alias="scale-down-delay")

    @model_validator(mode="after")
    def _one_assignment(self) -> ExperimentSpec:
        if self.percent is None and self.segment is None:
            raise ValueError("an experiment needs 'percent' (of users) or a 'segment'")
        if self.percent is not None and self.segment is not None:
            raise ValueError("an experiment takes 'percent' or 'segment', not both")
        return self
