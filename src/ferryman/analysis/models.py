"""The one vocabulary every judge answers in: verdicts and judgement records.

Every judge, however it decides, returns a :class:`Judgement`: the metric, a
:data:`Verdict`, a short summary of the canary's and the baseline's samples,
the statistics it computed and a one-line reason a human can read in
``ferryman status``. Judgements are frozen pydantic models, so a Temporal
workflow can store them and pass them back in unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict

Verdict = Literal["pass", "fail", "inconclusive", "no-data", "continue"]
"""What a judge concluded.

``pass`` and ``fail`` are final; ``inconclusive`` pauses for a human;
``no-data`` means there was nothing to judge (the caller's :data:`NoDataPolicy`
decides what happens); ``continue`` asks a judge that looks repeatedly for
another interval.
"""

NoDataPolicy = Literal["fail", "pause", "pass"]
"""What a caller does with a ``no-data`` verdict; it is never a silent pass."""

JudgeKind = Literal[
    "threshold", "mann-whitney", "sequential", "score", "experiment", "run", "decision"
]
"""Who decided: a judge, a template's score, a whole analysis run, or a human (``decision``)."""


class Frozen(BaseModel):
    """Base of the analysis models: immutable and strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class SampleSummary(Frozen):
    """A few numbers that describe one side's data.

    Attributes:
        n: Values (fixed-horizon judges) or requests (count-based judges) seen.
        mean: Mean of the values, or the event rate (events per request); ``None``
            without data.
        events: Events counted (errors, conversions), for count-based judges.
    """

    n: int = 0
    mean: float | None = None
    events: int | None = None


class Judgement(Frozen):
    """The record of one judgement, kept by the workflow and shown by ``ferryman status``.

    Attributes:
        metric: The metric's name in the analysis template.
        judge: Which judge decided.
        verdict: What it concluded.
        canary: Summary of the canary's data.
        baseline: Summary of the baseline's data.
        statistics: The numbers behind the verdict (p-value, estimates, bounds,
            log-evidence…); finite values only.
        reason: One line for a human.
        critical: A failing critical metric fails the whole run.
    """

    metric: str
    judge: JudgeKind
    verdict: Verdict
    canary: SampleSummary = SampleSummary()
    baseline: SampleSummary = SampleSummary()
    statistics: dict[str, float] = {}
    reason: str
    critical: bool = False


def finite(values: Mapping[str, float | None]) -> dict[str, float]:
    """Keep the finite numbers of ``values``, so that the record is plain JSON."""
    return {k: float(v) for k, v in values.items() if v is not None and math.isfinite(v)}


def apply_no_data(verdict: Verdict, policy: NoDataPolicy) -> Verdict:
    """Turn ``no-data`` into what the caller asked for; other verdicts pass through.

    Args:
        verdict: A judge's verdict.
        policy: ``fail``, ``pause`` (becomes ``inconclusive``) or ``pass``.
    """
    if verdict != "no-data":
        return verdict
    if policy == "pause":
        return "inconclusive"
    return policy


def percent(rate: float | None) -> str:
    """Format a rate for a reason: ``2.1%``, ``0.05%``, ``n/a``."""
    if rate is None or not math.isfinite(rate):
        return "n/a"
    value = rate * 100
    return f"{value:.2f}%" if abs(value) < 1 else f"{value:.1f}%"


def number(value: float | None) -> str:
    """Format a number for a reason with 3 significant digits."""
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:.3g}"
