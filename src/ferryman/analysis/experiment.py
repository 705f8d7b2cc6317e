"""A/B experiments: which variant converts better, or no difference (pure part of ``experiment``).

Each variant has exposures (users or requests that saw it) and conversions.
Every other variant is compared with the control (the first one):

- ``fixed`` stopping: two-sided two-proportion z-test (pooled standard error),
  or Fisher's exact test when an expected cell count is below 5 (or
  ``method="fisher"``); Wald interval on the difference of rates.
- ``sequential`` stopping: the time-uniform bounds of
  :func:`ferryman.analysis.evidence.rate_bounds` on each rate give an
  always-valid interval on the difference, valid however often it is looked at;
  a winner is declared as soon as it excludes 0, *no difference* as soon as it
  lies within ``±equivalence``, otherwise the experiment continues.

With several treatments, ``alpha`` is split evenly between them (Bonferroni).
The effect is the relative lift ``treatment rate / control rate − 1``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from pydantic import Field, model_validator

from ferryman.analysis.evidence import rate_bounds
from ferryman.analysis.models import Frozen, Verdict, percent
from ferryman.analysis.stats import fisher_exact_p_value, normal_quantile, normal_sf

Stopping = Literal["fixed", "sequential"]
Method = Literal["auto", "z", "fisher"]


class Variant(Frozen):
    """One arm of an experiment."""

    name: str = Field(min_length=1)
    exposures: int = Field(ge=0)
    conversions: int = Field(ge=0)

    @model_validator(mode="after")
    def _fewer_conversions(self) -> Variant:
        if self.conversions > self.exposures:
            raise ValueError(f"variant {self.name!r} has more conversions than exposures")
        return self

    @property
    def rate(self) -> float | None:
        """Conversions per exposure, ``None`` without exposures."""
        return self.conversions / self.exposures if self.exposures else None


class ExperimentConfig(Frozen):
    """How variants are compared.

    Attributes:
        alpha: Two-sided error rate of the whole experiment.
        stopping: ``fixed`` horizon or ``sequential`` (always valid).
        method: Fixed horizon test: ``auto`` (z, or Fisher for small counts), ``z``, ``fisher``.
        equivalence: Sequential only: stop with *no difference* once the interval
            on the difference of rates lies within ± this (absolute).
    """

    alpha: float = Field(default=0.05, gt=0, lt=0.5)
    stopping: Stopping = "fixed"
    method: Method = "auto"
    equivalence: float = Field(default=0.005, gt=0)


Decision = Literal["better", "worse", "no-difference", "continue", "no-data"]


class Comparison(Frozen):
    """A treatment against the control.

    Attributes:
        variant: The treatment's name.
        difference: Treatment rate − control rate.
        lift: Relative effect, ``treatment / control − 1`` (``None`` over a zero control).
        lower: Lower end of the interval on the difference.
        upper: Upper end.
        p_value: Fixed horizon only.
        test: ``z``, ``fisher`` or ``sequential``.
        decision: ``better``, ``worse``, ``no-difference``, ``continue`` or ``no-data``.
    """

    variant: str
    difference: float | None
    lift: float | None
    lower: float
    upper: float
    p_value: float | None
    test: Literal["z", "fisher", "sequential"]
    decision: Decision


class ExperimentReport(Frozen):
    """Every comparison and the experiment's decision.

    Attributes:
        variants: The variants, control first.
        comparisons: One per treatment.
        winner: The variant to keep when one is shown better than the others.
        verdict: ``pass`` once decided, ``continue`` while a sequential
            experiment needs more data, ``no-data`` without exposures.
        reason: One line for a human.
    """

    variants: tuple[Variant, ...]
    comparisons: tuple[Comparison, ...]
    winner: str | None
    verdict: Verdict
    reason: str


def compare(
    control: Variant, treatment: Variant, alpha: float, config: ExperimentConfig
) -> Comparison:
    """Compare one treatment with the control at level ``alpha``."""
    if not control.exposures or not treatment.exposures:
        return Comparison(
            variant=treatment.name,
            difference=None,
            lift=None,
            lower=-1.0,
            upper=1.0,
            p_value=None,
            test="sequential" if config.stopping == "sequential" else "z",
            decision="no-data",
        )
    p_c, p_t = control.conversions / control.exposures, treatment.conversions / treatment.exposures
    difference = p_t - p_c
    lift = p_t / p_c - 1 if p_c > 0 else None
    if config.stopping == "sequential":
        lower_t, upper_t = rate_bounds(treatment.conversions, treatment.exposures, alpha / 2)
        lower_c, upper_c = rate_bounds(control.conversions, control.exposures, alpha / 2)
        lower, upper = float(lower_t) - float(upper_c), float(upper_t) - float(lower_c)
        decision: Decision = (
            "better"
            if lower > 0
            else "worse"
            if upper < 0
            else "no-difference"
            if -config.equivalence < lower and upper < config.equivalence
            else "continue"
        )
        return Comparison(
            variant=treatment.name,
            difference=difference,
            lift=lift,
            lower=lower,
            upper=upper,
            p_value=None,
            test="sequential",
            decision=decision,
        )
    z = normal_quantile(1 - alpha / 2)
    se = math.sqrt(p_c * (1 - p_c) / control.exposures + p_t * (1 - p_t) / treatment.exposures)
    lower, upper = difference - z * se, difference + z * se
    test: Literal["z", "fisher"] = "fisher" if _small(control, treatment) else "z"
    if config.method != "auto":
        test = config.method
    if test == "fisher":
        p_value = fisher_exact_p_value(
            (
                (treatment.conversions, treatment.exposures - treatment.conversions),
                (control.conversions, control.exposures - control.conversions),
            )
        )
    else:
        pooled = (control.conversions + treatment.conversions) / (
            control.exposures + treatment.exposures
        )
        se0 = math.sqrt(pooled * (1 - pooled) * (1 / control.exposures + 1 / treatment.exposures))
        p_value = 2 * normal_sf(abs(difference) / se0) if se0 > 0 else 1.0
    decision = "no-difference"
    if p_value < alpha:
        decision = "better" if difference > 0 else "worse"
    return Comparison(
        variant=treatment.name,
        difference=difference,
        lift=lift,
        lower=lower,
        upper=upper,
        p_value=p_value,
        test=test,
        decision=decision,
    )


def analyze_experiment(
    variants: Sequence[Variant], config: ExperimentConfig | None = None
) -> ExperimentReport:
    """Compare every treatment with the control (the first variant) and decide.

    Args:
        variants: Control first, then one or more treatments.
        config: Level, stopping rule and test.

    Raises:
        ValueError: With fewer than two variants or repeated names.
    """
    config = config or ExperimentConfig()
    if len(variants) < 2:
        raise ValueError("an experiment needs a control and at least one treatment")
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        raise ValueError(f"variant names repeat: {', '.join(names)}")
    control, treatments = variants[0], variants[1:]
    alpha = config.alpha / len(treatments)
    comparisons = tuple(compare(control, t, alpha, config) for t in treatments)
    decisions = {c.decision for c in comparisons}
    better = [c for c in comparisons if c.decision == "better"]
    winner: str | None = None
    if "no-data" in decisions:
        verdict: Verdict = "no-data"
        reason = "a variant has no exposures"
    elif "continue" in decisions:
        verdict, reason = "continue", "not enough data yet for an always-valid decision"
    else:
        verdict = "pass"
        if better:
            best = max(better, key=lambda c: c.difference or 0.0)
            winner = best.variant
            reason = f"{best.variant} converts better than {control.name}: {_effect(best)}"
        elif "worse" in decisions:
            winner = control.name
            worse = ", ".join(c.variant for c in comparisons if c.decision == "worse")
            reason = f"{control.name} converts better than {worse}"
        else:
            reason = f"no difference between {', '.join(names)}"
    return ExperimentReport(
        variants=tuple(variants),
        comparisons=comparisons,
        winner=winner,
        verdict=verdict,
        reason=reason,
    )


def report_rows(report: ExperimentReport) -> list[dict[str, str]]:
    """The report as plain rows for a table: one per variant, control first.

    Columns: ``variant``, ``exposure``, ``conversions``, ``rate``, ``effect``
    (relative lift vs the control), ``interval`` (difference of rates, in
    percentage points), ``decision``.
    """
    by_name = {c.variant: c for c in report.comparisons}
    rows = []
    for variant in report.variants:
        found = by_name.get(variant.name)
        rows.append(
            {
                "variant": variant.name,
                "exposure": f"{variant.exposures:,}",
                "conversions": f"{variant.conversions:,}",
                "rate": percent(variant.rate),
                "effect": "control" if found is None else _lift(found.lift),
                "interval": ""
                if found is None
                else f"[{found.lower * 100:+.2f}, {found.upper * 100:+.2f}] pp",
                "decision": ("winner" if report.winner == variant.name else "")
                if found is None
                else ("winner" if report.winner == variant.name else found.decision),
            }
        )
    return rows


def _small(control: Variant, treatment: Variant) -> bool:
    total = control.exposures + treatment.exposures
    successes = control.conversions + treatment.conversions
    failures = total - successes
    return any(
        arm.exposures * count / total < 5
        for arm in (control, treatment)
        for count in (successes, failures)
    )


def _lift(lift: float | None) -> str:
    return "n/a" if lift is None else f"{lift * 100:+.1f}%"


def _effect(c: Comparison) -> str:
    p_value = "" if c.p_value is None else f", p={c.p_value:.2g}"
    return (
        f"lift {_lift(c.lift)}, difference [{c.lower * 100:+.2f}, {c.upper * 100:+.2f}] pp"
        f" ({c.test}{p_value})"
    )
