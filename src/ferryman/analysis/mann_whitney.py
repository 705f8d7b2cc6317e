"""The ``mann-whitney`` judge: Kayenta-style classification of one metric.

Canary and baseline each give a list of values (one per time bucket). After
the NaN strategy, a two-sided Mann-Whitney U test compares them, and the
Hodges–Lehmann estimate (the median of all canary − baseline differences)
with its distribution-free confidence interval measures the shift. As in
Kayenta's ``MannWhitneyClassifier``, the metric is *high* when the interval
lies above ``tolerance`` × |estimate| (and the test is significant), *low*
when it lies below −``tolerance`` × |estimate|. The effect size, the ratio of
the canary's mean to the baseline's, then decides whether a high (low) metric
matters: below ``allowed_increase`` it passes, at or above
``critical_increase`` it fails the whole run.

Sparse data: no values on a side gives ``no-data``; fewer than
``min_samples`` values gives ``no-data`` too (the test cannot be
significant); identical values on both sides (e.g. all zero) pass.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import Field

from ferryman.analysis.models import Frozen, Judgement, SampleSummary, finite, number
from ferryman.analysis.stats import mann_whitney_p_value, normal_quantile

Direction = Literal["increase", "decrease", "either"]
NanStrategy = Literal["remove", "replace"]
Classification = Literal["pass", "high", "low", "no-data"]


class MannWhitneyConfig(Frozen):
    """How one metric is classified (Kayenta's names in snake case).

    Attributes:
        kind: Tells the judges apart in a plan.
        direction: Which change is bad: ``increase`` (errors, latency), ``decrease``
            (throughput) or ``either``.
        confidence: Confidence level of the test and the interval.
        tolerance: Fraction of |Hodges–Lehmann estimate| the interval must clear.
        allowed_increase: A high metric whose mean ratio is below this passes.
        critical_increase: A high metric whose mean ratio reaches this fails the run.
        allowed_decrease: A low metric whose mean ratio is above this passes.
        critical_decrease: A low metric whose mean ratio is at or below this fails the run.
        nan_strategy: ``remove`` NaN values, or ``replace`` them with 0.
        critical: Failing this metric fails the whole run.
        muted: Computed and recorded, never counted in the score.
        group: Metric group, for the group weights of the score.
        min_samples: Fewer values than this on a side is ``no-data``.
    """

    kind: Literal["mann-whitney"] = "mann-whitney"
    direction: Direction = "increase"
    confidence: float = Field(default=0.98, gt=0.5, lt=1)
    tolerance: float = Field(default=0.25, ge=0)
    allowed_increase: float = Field(default=1.0, ge=1)
    critical_increase: float | None = Field(default=None, gt=1)
    allowed_decrease: float = Field(default=1.0, gt=0, le=1)
    critical_decrease: float | None = Field(default=None, ge=0, lt=1)
    nan_strategy: NanStrategy = "remove"
    critical: bool = False
    muted: bool = False
    group: str = "default"
    min_samples: int = Field(default=3, ge=1)


class MannWhitneyResult(Frozen):
    """The test and the shift estimate for two samples.

    Attributes:
        u: Mann-Whitney U of the canary (pairs where canary > baseline, ties half).
        p_value: Two-sided p-value.
        estimate: Hodges–Lehmann estimate of the shift canary − baseline.
        lower: Lower end of the confidence interval of the shift.
        upper: Upper end.
    """

    u: float
    p_value: float
    estimate: float
    lower: float
    upper: float


def mann_whitney(
    canary: Sequence[float], baseline: Sequence[float], confidence: float = 0.98
) -> MannWhitneyResult:
    """Two-sided Mann-Whitney U test and Hodges–Lehmann shift with its interval.

    The interval is the distribution-free one of Moses: order statistics of the
    pairwise differences, located with the normal approximation of U.

    Args:
        canary: The canary's values (no NaN), at least one.
        baseline: The baseline's values (no NaN), at least one.
        confidence: Level of the interval.
    """
    x = np.asarray(canary, dtype=float)
    y = np.asarray(baseline, dtype=float)
    n, m = len(x), len(y)
    u, p_value = mann_whitney_p_value(x, y)
    differences = np.subtract.outer(x, y).ravel()
    pairs = n * m
    z = normal_quantile(1 - (1 - confidence) / 2)
    k = math.floor(pairs / 2 - z * math.sqrt(pairs * (n + m + 1) / 12))
    middle = [(pairs - 1) // 2, pairs // 2]
    wanted = sorted({*middle, *([k - 1, pairs - k] if k >= 1 else [])})
    ordered = np.partition(differences, wanted)
    estimate = float((ordered[middle[0]] + ordered[middle[1]]) / 2)
    if k >= 1:
        lower, upper = float(ordered[k - 1]), float(ordered[pairs - k])
    else:
        lower, upper = -math.inf, math.inf
    return MannWhitneyResult(u=u, p_value=p_value, estimate=estimate, lower=lower, upper=upper)


def clean(values: Sequence[float], strategy: NanStrategy) -> list[float]:
    """Apply the NaN strategy: drop NaN values, or replace them with 0."""
    if strategy == "remove":
        return [float(v) for v in values if not math.isnan(v)]
    return [0.0 if math.isnan(v) else float(v) for v in values]


def classify_metric(
    metric: str,
    config: MannWhitneyConfig,
    canary: Sequence[float],
    baseline: Sequence[float],
) -> Judgement:
    """Classify one metric, Kayenta-style.

    Args:
        metric: The metric's name.
        config: Direction, confidence, tolerance, effect sizes, NaN strategy.
        canary: The canary's values over the window (one per bucket).
        baseline: The baseline's values over the same buckets.

    Returns:
        ``pass``, ``fail`` (high or low in a watched direction, big enough) or
        ``no-data``; ``critical`` is set when the metric is critical or its
        effect reached a critical size.
    """
    x, y = clean(canary, config.nan_strategy), clean(baseline, config.nan_strategy)
    summary_c = SampleSummary(n=len(x), mean=_mean(x))
    summary_b = SampleSummary(n=len(y), mean=_mean(y))

    def judged(
        verdict: Literal["pass", "fail", "no-data"], reason: str, **stats: float
    ) -> Judgement:
        return Judgement(
            metric=metric,
            judge="mann-whitney",
            verdict=verdict,
            canary=summary_c,
            baseline=summary_b,
            statistics=finite(stats),
            reason=reason,
            critical=config.critical or stats.get("critical_effect", 0.0) > 0,
        )

    if not x or not y:
        side = (
            "canary and baseline have"
            if not x and not y
            else ("canary has" if not x else "baseline has")
        )
        return judged("no-data", f"{metric}: {side} no values")
    if sorted(x) == sorted(y) or len(set(x) | set(y)) == 1:
        return judged("pass", f"{metric}: canary and baseline values are identical", ratio=1.0)
    if min(len(x), len(y)) < config.min_samples:
        return judged(
            "no-data",
            f"{metric}: {len(x)} canary and {len(y)} baseline values,"
            f" fewer than {config.min_samples}",
        )
    result = mann_whitney(x, y, config.confidence)
    ratio = _ratio(summary_c.mean, summary_b.mean)
    stats = {
        "u": result.u,
        "p_value": result.p_value,
        "hl_estimate": result.estimate,
        "lower": result.lower,
        "upper": result.upper,
        "ratio": ratio,
    }
    side = _classification(config, result)
    means = (
        f"{metric}: canary mean {number(summary_c.mean)} vs baseline {number(summary_b.mean)}"
        f" (×{number(ratio)}); p={result.p_value:.2g}, HL shift {number(result.estimate)}"
        f" [{number(result.lower)}, {number(result.upper)}]"
    )
    if side == "pass":
        return judged("pass", f"{means}: no significant change", **stats)
    if side == "high":
        if ratio < config.allowed_increase:
            return judged(
                "pass",
                f"{means}: high, within allowed-increase ×{config.allowed_increase:g}",
                **stats,
            )
        critical = config.critical_increase is not None and ratio >= config.critical_increase
        words = f", at least critical-increase ×{config.critical_increase:g}" if critical else ""
        return judged("fail", f"{means}: high{words}", critical_effect=float(critical), **stats)
    if ratio > config.allowed_decrease:
        return judged(
            "pass", f"{means}: low, within allowed-decrease ×{config.allowed_decrease:g}", **stats
        )
    critical = config.critical_decrease is not None and ratio <= config.critical_decrease
    words = f", at most critical-decrease ×{config.critical_decrease:g}" if critical else ""
    return judged("fail", f"{means}: low{words}", critical_effect=float(critical), **stats)


def _classification(config: MannWhitneyConfig, result: MannWhitneyResult) -> Classification:
    significant = result.p_value < 1 - config.confidence
    bound = config.tolerance * abs(result.estimate)
    if significant and config.direction in ("increase", "either") and result.lower > bound:
        return "high"
    if significant and config.direction in ("decrease", "either") and result.upper < -bound:
        return "low"
    return "pass"


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _ratio(canary: float | None, baseline: float | None) -> float:
    """Canary mean / baseline mean; 1 when both are 0, infinite over a zero baseline."""
    if canary is None or baseline is None:
        return math.nan
    if baseline == 0:
        return 1.0 if canary == 0 else math.copysign(math.inf, canary)
    return canary / baseline
