"""The sequential judge: always-valid false-alarm rate, power, early promotion, state."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special

from ferryman.analysis import (
    Judgement,
    LatencyObservation,
    RateObservation,
    SequentialConfig,
    SequentialState,
    log_mixture,
    rate_bounds,
    rate_log_evidence,
    ratio_grid,
    ratio_log_lr,
    sequential_step,
    sign_log_evidence,
)

CANARY, BASELINE, RATE = 100, 1900, 0.005  # per 10 s interval: 5 % canary vs the old version
RATES = SequentialConfig(test="rates", alpha=0.01, margin=0.005, count=180)
LATENCY = SequentialConfig(test="latency", alpha=0.01, margin=0.05, count=180)


def simulate_harm(multiplier: float, runs: int, seed: int, alpha: float = 0.01) -> np.ndarray:
    """Interval (1-based) at which the rates harm test crosses, or 0; the judge's own kernels."""
    rng = np.random.default_rng(seed)
    grid = ratio_grid()
    log_lr = np.zeros((runs, len(grid)))
    crossed = np.zeros(runs, dtype=int)
    for i in range(1, 181):
        x_c = rng.binomial(CANARY, RATE * multiplier, runs)
        x_b = rng.binomial(BASELINE, RATE, runs)
        log_lr += ratio_log_lr(x_c, x_b, CANARY, BASELINE, grid)
        now = (log_mixture(log_lr) >= math.log(1 / alpha)) & (crossed == 0)
        crossed[now] = i
    return crossed


def tolerance(p: float, runs: int) -> float:
    return p + 3 * math.sqrt(p * (1 - p) / runs)


@pytest.mark.parametrize("alpha", [0.01, 0.05])
def test_false_alarm_rate_of_the_rates_test_is_at_most_alpha(alpha: float) -> None:
    runs = 2000
    alarms = (simulate_harm(1.0, runs, seed=1, alpha=alpha) > 0).mean()
    assert alarms <= tolerance(alpha, runs)


def test_false_alarm_rate_of_the_latency_test_is_at_most_alpha() -> None:
    rng = np.random.default_rng(2)
    runs, alpha = 4000, 0.05
    signs = np.cumsum(rng.normal(size=(runs, 180)) > 0, axis=1)
    trials = np.arange(1, 181)
    alarms = (sign_log_evidence(signs, trials) >= math.log(1 / alpha)).any(axis=1).mean()
    assert alarms <= tolerance(alpha, runs)


def test_power_at_2x_and_5x() -> None:
    at_2x = simulate_harm(2.0, 300, seed=3)
    assert (at_2x > 0).mean() >= 0.98
    assert np.median(at_2x[at_2x > 0]) <= 60  # within 10 minutes of 10 s intervals
    at_5x = simulate_harm(5.0, 300, seed=4)
    assert (at_5x > 0).mean() == 1.0
    assert np.median(at_5x) <= 6


def test_sign_evidence_by_hand() -> None:
    # 10 positives of 10: 2^11 · B(11, 1) · P(Beta(11, 1) > ½) = 2^11 / 11 · (1 − 2^-11)
    assert math.exp(float(sign_log_evidence(10, 10))) == pytest.approx((2**11 - 1) / 11)
    assert float(sign_log_evidence(0, 0)) == pytest.approx(0.0)


def test_rate_bounds_are_the_evidence_level_set() -> None:
    lower, upper = rate_bounds(50, 10_000, 0.01)
    assert float(lower) < 0.005 < float(upper)
    for bound in (lower, upper):
        assert float(rate_log_evidence(bound, 50, 10_000)) == pytest.approx(math.log(100), abs=1e-6)
    zero_lower, zero_upper = rate_bounds(0, 10_000, 0.01)
    assert float(zero_lower) == 0.0
    assert 0 < float(zero_upper) < 0.001
    assert rate_bounds(0, 0, 0.01)[1] == 1.0


def test_ratio_likelihood_ratio_by_hand() -> None:
    grid = np.array([2.0])
    # w = 100/2000 = 0.05; ρ = 2: P(canary | error) = 0.1/1.05.
    log_lr = ratio_log_lr(3, 7, 100, 1900, grid)
    p1, p0 = 0.1 / 1.05, 0.05
    expected = 3 * math.log(p1 / p0) + 7 * math.log((1 - p1) / (1 - p0))
    assert float(log_lr[0]) == pytest.approx(expected)
    assert float(ratio_log_lr(0, 5, 0, 1900, grid)[0]) == 0.0  # no canary traffic: no evidence


def run(
    config: SequentialConfig,
    observations: list[RateObservation] | list[LatencyObservation],
    through_json: bool = False,
) -> list[Judgement]:
    state = SequentialState()
    judgements = []
    for obs in observations:
        if through_json:
            state = SequentialState.model_validate_json(state.model_dump_json())
        state, judged = sequential_step("errors", config, state, obs)
        judgements.append(judged)
        if judged.verdict != "continue":
            break
    return judgements


def rate_stream(multiplier: float, seed: int, intervals: int = 180) -> list[RateObservation]:
    rng = np.random.default_rng(seed)
    return [
        RateObservation(
            canary_requests=CANARY,
            canary_errors=int(rng.binomial(CANARY, RATE * multiplier)),
            baseline_requests=BASELINE,
            baseline_errors=int(rng.binomial(BASELINE, RATE)),
        )
        for _ in range(intervals)
    ]


def test_harm_fails_with_a_readable_reason() -> None:
    judged = run(RATES, rate_stream(5.0, seed=5))[-1]
    assert judged.verdict == "fail"
    assert judged.reason.startswith("error rate canary ")
    assert "≥ 1/α=100: harm" in judged.reason
    assert judged.canary.events is not None and judged.canary.mean is not None
    assert judged.statistics["log_e_harm"] >= math.log(100)


def test_a_good_canary_is_promoted_early() -> None:
    judgements = run(RATES, rate_stream(1.0, seed=6))
    assert judgements[-1].verdict == "pass"
    assert len(judgements) < 120  # before 20 of the 30 minutes
    assert "< margin 0.5 pp: safe" in judgements[-1].reason


def test_zero_errors_everywhere_promotes_and_no_traffic_is_no_data() -> None:
    quiet = [
        RateObservation(
            canary_requests=100, canary_errors=0, baseline_requests=100, baseline_errors=0
        )
    ] * 180
    assert run(RATES, quiet)[-1].verdict == "pass"
    empty = [
        RateObservation(canary_requests=0, canary_errors=0, baseline_requests=0, baseline_errors=0)
    ] * 180
    judgements = run(RATES, empty)
    assert [j.verdict for j in judgements[-2:]] == ["continue", "no-data"]


def test_without_early_promotion_the_horizon_is_inconclusive() -> None:
    config = RATES.model_copy(update={"promote_early": False, "count": 30})
    assert run(config, rate_stream(1.0, seed=6))[-1].verdict == "inconclusive"


def test_state_round_trips_through_json_mid_run_with_the_same_decisions() -> None:
    stream = rate_stream(2.0, seed=8)
    direct = run(RATES, stream)
    rebuilt = run(RATES, stream, through_json=True)
    assert direct == rebuilt
    assert direct[-1].verdict == "fail"
    state = SequentialState()
    for obs in stream[:10]:
        state, _ = sequential_step("errors", RATES, state, obs)
    copy = SequentialState.model_validate_json(state.model_dump_json())
    assert copy == state
    assert sequential_step("errors", RATES, copy, stream[10]) == sequential_step(
        "errors", RATES, state, stream[10]
    )


def latency_stream(shift: float, seed: int) -> list[LatencyObservation]:
    rng = np.random.default_rng(seed)
    p50 = lambda scale: float(0.05 * scale * math.exp(0.5 * special.ndtri(rng.beta(50, 51))))  # noqa: E731
    return [LatencyObservation(canary=p50(1 + shift), baseline=p50(1.0)) for _ in range(180)]


def test_latency_regression_fails_and_a_good_canary_passes() -> None:
    slow = run(LATENCY, latency_stream(0.5, seed=9))
    assert slow[-1].verdict == "fail" and len(slow) <= 20
    assert "harm" in slow[-1].reason
    good = run(LATENCY, latency_stream(0.0, seed=10))
    assert good[-1].verdict == "pass"
    assert good[-1].statistics["relative_shift"] == pytest.approx(0.0, abs=0.05)


def test_latency_without_values_is_no_data() -> None:
    missing = [LatencyObservation(canary=None, baseline=0.05)] * 180
    assert run(LATENCY, missing)[-1].verdict == "no-data"


def test_a_decided_state_keeps_its_verdict() -> None:
    judgements = run(RATES, rate_stream(5.0, seed=5))
    state = SequentialState(verdict=judgements[-1].verdict)
    _, again = sequential_step("errors", RATES, state, rate_stream(1.0, seed=1)[0])
    assert again.verdict == "fail"


def test_observation_must_fit_the_test() -> None:
    with pytest.raises(ValueError, match="RateObservation"):
        sequential_step("e", RATES, SequentialState(), LatencyObservation(canary=1, baseline=1))
    with pytest.raises(ValueError, match="errors cannot exceed requests"):
        RateObservation(canary_requests=1, canary_errors=2, baseline_requests=0, baseline_errors=0)
