"""The Kayenta-style judge: the test against SciPy and by hand, classification, scoring."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError
from scipy import stats

from ferryman.analysis import (
    Judgement,
    MannWhitneyConfig,
    ScoreConfig,
    ScoredMetric,
    classify_metric,
    mann_whitney,
    score_run,
)


def test_u_p_value_and_hodges_lehmann_by_hand() -> None:
    canary, baseline = [3.0, 5.0, 7.0], [1.0, 2.0, 4.0]
    result = mann_whitney(canary, baseline)
    # Pairs canary > baseline: 3>1,3>2, 5>1,5>2,5>4, 7>1,7>2,7>4 → U = 8 of 9.
    assert result.u == 8
    # Exact: P(U >= 8) = 2/20 (U=8 or 9 out of C(6,3) = 20 arrangements), two-sided 0.2.
    assert result.p_value == pytest.approx(0.2)
    # Differences: 2,1,-1, 4,3,1, 6,5,3 → median 3.
    assert result.estimate == 3.0


def test_against_scipy_on_larger_samples() -> None:
    rng = np.random.default_rng(7)
    canary, baseline = rng.normal(1.3, 1, 40), rng.normal(1.0, 1, 50)
    result = mann_whitney(canary.tolist(), baseline.tolist(), confidence=0.98)
    expected = stats.mannwhitneyu(canary, baseline, alternative="two-sided")
    assert result.u == pytest.approx(expected.statistic)
    assert result.p_value == pytest.approx(expected.pvalue)
    assert result.estimate == pytest.approx(float(np.median(np.subtract.outer(canary, baseline))))
    assert result.lower < result.estimate < result.upper


def test_interval_covers_a_known_shift_about_as_often_as_promised() -> None:
    rng = np.random.default_rng(11)
    covered = 0
    for _ in range(300):
        x, y = rng.normal(0.5, 1, 30), rng.normal(0, 1, 30)
        result = mann_whitney(x.tolist(), y.tolist(), confidence=0.9)
        covered += result.lower <= 0.5 <= result.upper
    assert 0.85 <= covered / 300 <= 0.95


def config(**kwargs: object) -> MannWhitneyConfig:
    return MannWhitneyConfig.model_validate(kwargs)


SLOW = [float(v) for v in range(20, 40)]
FAST = [float(v) for v in range(10, 30)]


def test_significant_increase_fails() -> None:
    judged = classify_metric("latency", config(), SLOW, FAST)
    assert judged.verdict == "fail"
    assert judged.statistics["hl_estimate"] == 10.0
    assert judged.statistics["p_value"] < 0.02
    assert "high" in judged.reason


def test_direction_decides_what_is_bad() -> None:
    assert classify_metric("m", config(direction="decrease"), SLOW, FAST).verdict == "pass"
    assert classify_metric("m", config(direction="decrease"), FAST, SLOW).verdict == "fail"
    assert classify_metric("m", config(direction="either"), FAST, SLOW).verdict == "fail"
    assert classify_metric("m", config(direction="increase"), FAST, SLOW).verdict == "pass"


def test_no_difference_passes() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(10, 1, 60).tolist(), rng.normal(10, 1, 60).tolist()
    assert classify_metric("m", config(), a, b).verdict == "pass"


def test_effect_size_allowed_and_critical() -> None:
    beyond = classify_metric("m", config(allowed_increase=1.5), SLOW, FAST)
    assert beyond.statistics["ratio"] == pytest.approx(29.5 / 19.5)  # 1.51 ≥ 1.5
    assert beyond.verdict == "fail"
    within = classify_metric("m", config(allowed_increase=1.6), SLOW, FAST)
    assert within.verdict == "pass"
    assert "within allowed-increase" in within.reason
    critical = classify_metric("m", config(critical_increase=1.4), SLOW, FAST)
    assert critical.verdict == "fail" and critical.critical
    assert "critical-increase" in critical.reason
    assert not classify_metric("m", config(critical_increase=2.0), SLOW, FAST).critical


def test_zero_baseline() -> None:
    zeros = [0.0] * 30
    both_zero = classify_metric("errors", config(), zeros, zeros)
    assert both_zero.verdict == "pass"
    assert "identical" in both_zero.reason
    errors = classify_metric("errors", config(), [0.02] * 25 + [0.0] * 5, zeros)
    assert errors.verdict == "fail"
    assert "ratio" not in errors.statistics  # infinite over a zero baseline: left out, not faked


def test_nan_strategies() -> None:
    nan = math.nan
    all_nan = classify_metric("m", config(), [nan] * 10, FAST)
    assert all_nan.verdict == "no-data"
    assert "canary has no values" in all_nan.reason
    replaced = classify_metric("m", config(nan_strategy="replace"), [nan] * 20, [0.0] * 20)
    assert replaced.verdict == "pass"
    removed = classify_metric("m", config(), [*SLOW, nan, nan], FAST)
    assert removed.canary.n == len(SLOW)


def test_no_and_sparse_data() -> None:
    assert classify_metric("m", config(), [], []).verdict == "no-data"
    sparse = classify_metric("m", config(), [1.0, 2.0], [3.0, 4.0, 5.0])
    assert sparse.verdict == "no-data"
    assert "fewer than 3" in sparse.reason


def test_critical_flag_comes_from_config() -> None:
    assert classify_metric("m", config(critical=True), SLOW, FAST).critical


def test_config_bounds() -> None:
    with pytest.raises(ValidationError):
        config(confidence=1.5)
    with pytest.raises(ValidationError):
        config(direction="sideways")


# --- scoring -------------------------------------------------------------------------------


def judged(metric: str, verdict: str, critical: bool = False) -> Judgement:
    return Judgement.model_validate(
        {
            "metric": metric,
            "judge": "mann-whitney",
            "verdict": verdict,
            "reason": "r",
            "critical": critical,
        }
    )


def scored(metric: str, verdict: str, **kwargs: object) -> ScoredMetric:
    critical = bool(kwargs.pop("critical", False))
    return ScoredMetric.model_validate({"judgement": judged(metric, verdict, critical), **kwargs})


def test_score_thresholds() -> None:
    four = [scored(f"m{i}", "pass") for i in range(4)]
    assert score_run(four).judgement.verdict == "pass"
    three_of_four = [*four[:3], scored("bad", "fail")]
    result = score_run(three_of_four)
    assert result.score == 75 and result.judgement.verdict == "pass"
    half = [*four[:2], scored("b1", "fail"), scored("b2", "fail")]
    assert score_run(half).judgement.verdict == "inconclusive"
    quarter = [four[0], scored("b1", "fail"), scored("b2", "fail"), scored("b3", "fail")]
    low = score_run(quarter)
    assert low.score == 25 and low.judgement.verdict == "fail"
    strict = ScoreConfig(pass_score=90, marginal_score=70)
    assert score_run(three_of_four, strict).judgement.verdict == "inconclusive"


def test_group_weights() -> None:
    metrics = [
        scored("errors", "fail", group="errors"),
        scored("p50", "pass", group="latency"),
        scored("p99", "pass", group="latency"),
    ]
    equal = score_run(metrics)
    assert equal.group_scores == {"errors": 0.0, "latency": 100.0}
    assert equal.score == 50
    weighted = score_run(metrics, ScoreConfig(group_weights={"errors": 20, "latency": 80}))
    assert weighted.score == 80 and weighted.judgement.verdict == "pass"
    with pytest.raises(ValueError, match="no weight for metric group 'latency'"):
        score_run(metrics, ScoreConfig(group_weights={"errors": 1}))


def test_critical_metric_fails_the_run_whatever_the_score() -> None:
    metrics = [scored(f"m{i}", "pass") for i in range(9)] + [
        scored("errors", "fail", critical=True)
    ]
    result = score_run(metrics)
    assert result.score == 90
    assert result.judgement.verdict == "fail"
    assert "critical metric errors failed" in result.judgement.reason


def test_muted_metrics_are_recorded_not_counted() -> None:
    metrics = [scored("ok", "pass"), scored("noisy", "fail", muted=True)]
    result = score_run(metrics)
    assert result.score == 100 and result.judgement.verdict == "pass"
    assert [j.metric for j in result.metrics] == ["ok", "noisy"]
    muted_critical = [scored("ok", "pass"), scored("c", "fail", muted=True, critical=True)]
    assert score_run(muted_critical).judgement.verdict == "pass"


def test_no_data_is_never_a_silent_pass() -> None:
    assert score_run([scored("a", "no-data"), scored("b", "no-data")]).judgement.verdict == (
        "no-data"
    )
    assert score_run([]).judgement.verdict == "no-data"
    critical_blind = [scored("a", "pass"), scored("c", "no-data", critical=True)]
    assert score_run(critical_blind).judgement.verdict == "no-data"
    partial = score_run([scored("a", "pass"), scored("b", "no-data")])
    assert partial.judgement.verdict == "pass"
    assert "no data: b" in partial.judgement.reason


def test_score_config_checks_order() -> None:
    with pytest.raises(ValidationError, match="marginal score 80 is above pass score 75"):
        ScoreConfig(marginal_score=80)
