"""The ``sequential`` judge: always-valid tests checked after every interval.

Two tests, both one-sided ("is the canary worse?"), both built from
e-processes (:mod:`ferryman.analysis.evidence`), so the chance of a false
alarm stays at most ``alpha`` however many intervals the judge looks at:

``rates`` (error counts per version)
    *Harm*: the canary's errors, given the total, against a rate ratio of
    ``1 + tolerance`` (mixture over larger ratios); ``fail`` when the evidence
    reaches ``1/alpha``. *Safety*: time-uniform bounds on both error rates
    (each at ``alpha/2``); ``pass`` as soon as the upper bound of canary − baseline
    falls below ``margin`` (absolute, e.g. 0.005 is half a percentage point).
``latency`` (one quantile value per version and interval)
    The log-ratio ``d = log(canary / baseline)`` of each interval is a coin
    flip under no regression. *Harm*: sign test of ``d > log(1 + tolerance)``;
    *safety*: sign test of ``d < log(1 + margin)`` (``margin`` relative, e.g.
    0.05 is +5 %).

Harm wins when both cross in the same interval. At the horizon (``count``
intervals) without a decision the verdict is ``inconclusive`` (a human
decides), or ``no-data`` when nothing usable came in.

The state is a small frozen model; thread it through the workflow::

    state = SequentialState()
    state, judgement = sequential_step("errors", config, state, RateObservation(...))
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from ferryman.analysis.evidence import (
    log_mixture,
    rate_bounds,
    ratio_grid,
    ratio_log_lr,
    sign_log_evidence,
)
from ferryman.analysis.models import (
    Frozen,
    Judgement,
    SampleSummary,
    Verdict,
    finite,
    percent,
)

SequentialTest = Literal["rates", "latency"]

DEFAULT_MARGIN: dict[SequentialTest, float] = {"rates": 0.005, "latency": 0.05}


class SequentialConfig(Frozen):
    """How a sequential judge decides.

    Attributes:
        kind: Tells the judges apart in a plan.
        test: ``rates`` for error counts, ``latency`` for per-interval quantiles.
        alpha: Bound on the false-alarm rate, and on the rate of promoting a canary
            that is worse than ``margin``.
        margin: Tolerated increase for early promotion: absolute for ``rates``
            (0.005 = +0.5 pp), relative for ``latency`` (0.05 = +5 %); ``None``
            takes those defaults.
        tolerance: Relative increase that is not yet harm (0 = any increase).
        count: Horizon in intervals.
        interval_s: Seconds between looks (the caller's clock).
        promote_early: Pass as soon as safety is shown; otherwise only harm stops early.
    """

    kind: Literal["sequential"] = "sequential"
    test: SequentialTest = "rates"
    alpha: float = Field(default=0.01, gt=0, lt=0.5)
    margin: float | None = Field(default=None, gt=0)
    tolerance: float = Field(default=0.0, ge=0)
    count: int = Field(default=180, ge=1)
    interval_s: float = Field(default=10.0, gt=0)
    promote_early: bool = True

    @model_validator(mode="after")
    def _margin(self) -> SequentialConfig:
        if self.test == "rates" and self.margin is not None and self.margin >= 1:
            raise ValueError(f"a rates margin is a rate increase below 1, got {self.margin:g}")
        return self

    @property
    def safe_margin(self) -> float:
        """The margin in force."""
        return DEFAULT_MARGIN[self.test] if self.margin is None else self.margin


class RateObservation(Frozen):
    """One interval's requests and errors (not cumulative) for canary and baseline."""

    canary_requests: int = Field(ge=0)
    canary_errors: int = Field(ge=0)
    baseline_requests: int = Field(ge=0)
    baseline_errors: int = Field(ge=0)

    @model_validator(mode="after")
    def _fewer_errors(self) -> RateObservation:
        if (
            self.canary_errors > self.canary_requests
            or self.baseline_errors > self.baseline_requests
        ):
            raise ValueError("errors cannot exceed requests")
        return self


class LatencyObservation(Frozen):
    """One interval's latency quantile (seconds) for canary and baseline; ``None`` without data."""

    canary: float | None
    baseline: float | None


class SequentialState(Frozen):
    """What a sequential judge remembers between intervals; a few numbers.

    Attributes:
        intervals: Intervals seen.
        canary_requests: Cumulative canary requests (``rates``).
        canary_errors: Cumulative canary errors (``rates``).
        baseline_requests: Cumulative baseline requests (``rates``).
        baseline_errors: Cumulative baseline errors (``rates``).
        harm_log_lr: Log-likelihood ratio per grid ratio (``rates``).
        usable: Intervals with both latencies (``latency``).
        harm_signs: Intervals with ``d`` above the tolerance (``latency``).
        safe_signs: Intervals with ``d`` below the margin (``latency``).
        log_ratio_sum: Sum of ``d`` over usable intervals (``latency``).
        verdict: The final verdict once reached; later steps repeat it.
    """

    intervals: int = 0
    canary_requests: int = 0
    canary_errors: int = 0
    baseline_requests: int = 0
    baseline_errors: int = 0
    harm_log_lr: tuple[float, ...] = ()
    usable: int = 0
    harm_signs: int = 0
    safe_signs: int = 0
    log_ratio_sum: float = 0.0
    verdict: Verdict = "continue"


def sequential_step(
    metric: str,
    config: SequentialConfig,
    state: SequentialState,
    observation: RateObservation | LatencyObservation,
) -> tuple[SequentialState, Judgement]:
    """Add one interval and judge.

    Args:
        metric: The metric's name, for the record.
        config: The test and its parameters.
        state: What earlier intervals left (``SequentialState()`` at first).
        observation: This interval's counts (``rates``) or quantiles (``latency``).

    Returns:
        The new state and the judgement (``continue`` while undecided).

    Raises:
        ValueError: If the observation does not fit the test.
    """
    if config.test == "rates":
        if not isinstance(observation, RateObservation):
            raise ValueError("a rates test takes a RateObservation")
        return _rates(metric, config, state, observation)
    if not isinstance(observation, LatencyObservation):
        raise ValueError("a latency test takes a LatencyObservation")
    return _latency(metric, config, state, observation)


# --- rates ---------------------------------------------------------------------------------


def _rates(
    metric: str, config: SequentialConfig, state: SequentialState, obs: RateObservation
) -> tuple[SequentialState, Judgement]:
    grid = ratio_grid()
    previous = np.asarray(state.harm_log_lr or [0.0] * len(grid))
    increment = ratio_log_lr(
        obs.canary_errors,
        obs.baseline_errors,
        obs.canary_requests,
        obs.baseline_requests,
        grid,
        1 + config.tolerance,
    )
    log_lr = previous + increment
    state = state.model_copy(
        update={
            "intervals": state.intervals + 1,
            "canary_requests": state.canary_requests + obs.canary_requests,
            "canary_errors": state.canary_errors + obs.canary_errors,
            "baseline_requests": state.baseline_requests + obs.baseline_requests,
            "baseline_errors": state.baseline_errors + obs.baseline_errors,
            "harm_log_lr": tuple(float(v) for v in log_lr),
        }
    )
    judged = rate_judgement(metric, config, state)
    return state.model_copy(update={"verdict": judged.verdict}), judged


def rate_judgement(metric: str, config: SequentialConfig, state: SequentialState) -> Judgement:
    """Judge the cumulative counts in ``state`` (pure; :func:`sequential_step` calls it)."""
    threshold = math.log(1 / config.alpha)
    harm = float(log_mixture(np.asarray(state.harm_log_lr))) if state.harm_log_lr else 0.0
    n_c, x_c = state.canary_requests, state.canary_errors
    n_b, x_b = state.baseline_requests, state.baseline_errors
    _, upper_c = rate_bounds(x_c, n_c, config.alpha / 2)
    lower_b, _ = rate_bounds(x_b, n_b, config.alpha / 2)
    upper = float(upper_c) - float(lower_b)
    rate_c = x_c / n_c if n_c else None
    rate_b = x_b / n_b if n_b else None
    margin = config.safe_margin
    verdict: Verdict
    if state.verdict not in ("continue",):
        verdict = state.verdict
    elif harm >= threshold:
        verdict = "fail"
    elif config.promote_early and n_c > 0 and upper < margin:
        verdict = "pass"
    elif state.intervals >= config.count:
        verdict = "no-data" if n_c == 0 else "inconclusive"
    else:
        verdict = "continue"
    head = f"error rate canary {percent(rate_c)} vs baseline {percent(rate_b)}"
    if rate_c is not None and rate_b is not None:
        head += f" ({(rate_c - rate_b) * 100:+.2f} pp)"
    e_value = f"e={_e(harm)} {'≥' if harm >= threshold else '<'} 1/α={1 / config.alpha:g}"
    bound = (
        f"upper bound {(upper * 100):+.3f} pp {'<' if upper < margin else '≥'}"
        f" margin {margin * 100:g} pp"
    )
    tails = {
        "fail": f"{e_value}: harm",
        "pass": f"{bound}: safe ({e_value})",
        "inconclusive": f"{config.count} intervals, neither harm ({e_value}) nor safety ({bound})",
        "no-data": f"no canary requests in {state.intervals} intervals",
        "continue": f"{e_value}; {bound}; interval {state.intervals} of {config.count}",
    }
    return Judgement(
        metric=metric,
        judge="sequential",
        verdict=verdict,
        canary=SampleSummary(n=n_c, mean=rate_c, events=x_c),
        baseline=SampleSummary(n=n_b, mean=rate_b, events=x_b),
        statistics=finite(
            {
                "log_e_harm": harm,
                "upper_difference": upper,
                "canary_upper": float(upper_c),
                "baseline_lower": float(lower_b),
                "intervals": state.intervals,
            }
        ),
        reason=f"{head}; {tails[verdict]}",
    )


# --- latency -------------------------------------------------------------------------------


def _latency(
    metric: str, config: SequentialConfig, state: SequentialState, obs: LatencyObservation
) -> tuple[SequentialState, Judgement]:
    update: dict[str, float | int] = {"intervals": state.intervals + 1}
    if obs.canary is not None and obs.baseline is not None and obs.canary > 0 and obs.baseline > 0:
        d = math.log(obs.canary / obs.baseline)
        update |= {
            "usable": state.usable + 1,
            "harm_signs": state.harm_signs + (d > math.log1p(config.tolerance)),
            "safe_signs": state.safe_signs + (d < math.log1p(config.safe_margin)),
            "log_ratio_sum": state.log_ratio_sum + d,
        }
    state = state.model_copy(update=update)
    judged = latency_judgement(metric, config, state)
    return state.model_copy(update={"verdict": judged.verdict}), judged


def latency_judgement(metric: str, config: SequentialConfig, state: SequentialState) -> Judgement:
    """Judge the sign counts in ``state`` (pure; :func:`sequential_step` calls it)."""
    threshold = math.log(1 / config.alpha)
    harm = float(sign_log_evidence(state.harm_signs, state.usable))
    safe = float(sign_log_evidence(state.safe_signs, state.usable))
    verdict: Verdict
    if state.verdict != "continue":
        verdict = state.verdict
    elif harm >= threshold:
        verdict = "fail"
    elif config.promote_early and safe >= threshold:
        verdict = "pass"
    elif state.intervals >= config.count:
        verdict = "no-data" if state.usable == 0 else "inconclusive"
    else:
        verdict = "continue"
    shift = math.expm1(state.log_ratio_sum / state.usable) if state.usable else None
    head = (
        f"latency canary/baseline {'n/a' if shift is None else f'{shift * 100:+.1f}%'} "
        f"(geometric mean over {state.usable} intervals)"
    )
    harm_text = (
        f"slower than +{config.tolerance * 100:g}% in {state.harm_signs}/{state.usable}, "
        f"e={_e(harm)} {'≥' if harm >= threshold else '<'} 1/α={1 / config.alpha:g}"
    )
    safe_text = (
        f"within +{config.safe_margin * 100:g}% in {state.safe_signs}/{state.usable}, "
        f"e={_e(safe)} {'≥' if safe >= threshold else '<'} 1/α={1 / config.alpha:g}"
    )
    tails = {
        "fail": f"{harm_text}: harm",
        "pass": f"{safe_text}: safe",
        "inconclusive": (
            f"{config.count} intervals, neither harm ({harm_text}) nor safety ({safe_text})"
        ),
        "no-data": f"no interval with both latencies in {state.intervals}",
        "continue": f"{harm_text}; {safe_text}; interval {state.intervals} of {config.count}",
    }
    return Judgement(
        metric=metric,
        judge="sequential",
        verdict=verdict,
        canary=SampleSummary(n=state.usable),
        baseline=SampleSummary(n=state.usable),
        statistics=finite(
            {
                "log_e_harm": harm,
                "log_e_safe": safe,
                "relative_shift": shift,
                "intervals": state.intervals,
            }
        ),
        reason=f"{head}; {tails[verdict]}",
    )


def _e(log_value: float) -> str:
    value = math.exp(min(log_value, 700.0))
    return f"{value:.3g}" if value < 1e6 else f"{value:.2e}"
