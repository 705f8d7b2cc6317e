"""Analysis runs: one look per metric from totals or windows, and the run's verdict."""

from __future__ import annotations

from ferryman.analysis.experiment import ExperimentConfig
from ferryman.analysis.mann_whitney import MannWhitneyConfig
from ferryman.analysis.models import Judgement
from ferryman.analysis.runs import (
    ERROR_LIMIT,
    Counts,
    ExperimentPlan,
    ExperimentState,
    Measurement,
    MetricState,
    Sides,
    Tally,
    experiment_step,
    judge_metric,
    metric_key,
    run_verdict,
    scheduled,
)
from ferryman.analysis.sequential import SequentialConfig
from ferryman.analysis.templates import AnalysisQuery, MetricPlan, TemplatePlan
from ferryman.analysis.threshold import ThresholdConfig

SIDES = Sides(canary="v2", baseline="v1.baseline", references=("v1.baseline", "v1"))


def metric(name: str, judge: object, count: int = 5) -> MetricPlan:
    return MetricPlan.model_validate(
        {
            "name": name,
            "source": "local",
            "query": AnalysisQuery(kind="error_rate"),
            "judge": judge,
            "interval_s": 1,
            "count": count,
        }
    )


RATES = metric("errors", SequentialConfig(count=50, alpha=0.01, margin=0.01))
THRESHOLD = metric("rate", ThresholdConfig(success_condition="result < 0.05", count=3))
P50 = metric("p50", MannWhitneyConfig(), count=4)


def totals(canary: tuple[int, int], baseline: tuple[int, int], stable: tuple[int, int]) -> dict:
    return {
        "v2": Counts(requests=canary[0], errors=canary[1]),
        "v1.baseline": Counts(requests=baseline[0], errors=baseline[1]),
        "v1": Counts(requests=stable[0], errors=stable[1]),
    }


def test_a_rates_metric_first_marks_then_counts_what_changed_since() -> None:
    state = judge_metric(
        RATES, SIDES, MetricState(), Measurement(totals=totals((50, 5), (50, 0), (900, 1))), 0
    )
    assert state.looks == 0 and state.verdict == "continue"
    assert state.judgement is not None and "from now" in state.judgement.reason
    state = judge_metric(
        RATES, SIDES, state, Measurement(totals=totals((150, 6), (150, 0), (2900, 3))), 1
    )
    assert state.looks == 1
    seq = state.sequential
    assert (seq.canary_requests, seq.canary_errors) == (100, 1)
    assert (seq.baseline_requests, seq.baseline_errors) == (2100, 2), "baseline + stable"


def test_a_counter_that_went_back_counts_from_zero() -> None:
    state = MetricState(totals=totals((500, 5), (500, 0), (500, 0)))
    state = judge_metric(
        RATES, SIDES, state, Measurement(totals=totals((20, 1), (520, 0), (510, 0))), 1
    )
    assert (state.sequential.canary_requests, state.sequential.canary_errors) == (20, 1)


def test_a_bad_canary_fails_on_error_counts() -> None:
    state = MetricState(totals=totals((0, 0), (0, 0), (0, 0)))
    n = 0
    while state.verdict == "continue":
        n += 1
        now = totals((100 * n, 5 * n), (100 * n, 0), (1800 * n, 2 * n))
        state = judge_metric(RATES, SIDES, state, Measurement(totals=now), n)
    assert state.verdict == "fail" and n < 10


def test_source_errors_fail_a_metric_after_the_limit() -> None:
    state = MetricState()
    for _ in range(ERROR_LIMIT):
        state = judge_metric(RATES, SIDES, state, Measurement(error="refused"), 0)
        assert state.verdict == "continue"
    state = judge_metric(RATES, SIDES, state, Measurement(error="refused"), 0)
    assert state.verdict == "fail"
    assert state.judgement is not None and "refused" in state.judgement.reason


def test_threshold_looks_use_the_canary_value() -> None:
    state = MetricState()
    for value in (0.01, 0.02, 0.0):
        state = judge_metric(THRESHOLD, SIDES, state, Measurement(value=value), 0)
    assert state.verdict == "pass"
    bad = judge_metric(THRESHOLD, SIDES, MetricState(), Measurement(value=0.2), 0)
    assert bad.verdict == "fail"
    none = judge_metric(THRESHOLD, SIDES, MetricState(), Measurement(), 0)
    assert none.judgement is not None and "no data" in none.judgement.reason


def test_mann_whitney_collects_buckets_then_classifies() -> None:
    state = MetricState()
    for canary, baseline in ((0.05, 0.05), (0.06, 0.05), (None, 0.05)):
        state = judge_metric(P50, SIDES, state, Measurement(canary=canary, baseline=baseline), 0)
        assert state.verdict == "continue"
    assert state.canary_values == (0.05, 0.06, None)
    state = judge_metric(P50, SIDES, state, Measurement(canary=0.05, baseline=0.05), 0)
    assert state.verdict in ("pass", "no-data")
    assert state.looks == 4


def template(*metrics: MetricPlan, no_data: str = "pause") -> TemplatePlan:
    return TemplatePlan.model_validate({"name": "t", "metrics": metrics, "no_data": no_data})


def with_verdict(state: MetricState, plan: MetricPlan, verdict: str) -> MetricState:
    judgement = Judgement(metric=plan.name, judge=plan.judge.kind, verdict=verdict, reason=verdict)
    return state.model_copy(update={"judgement": judgement})


def test_run_fails_at_once_waits_for_the_rest_then_passes() -> None:
    tpl = template(RATES, THRESHOLD)
    keys = [metric_key(tpl, m) for m in tpl.metrics]
    cont = {
        k: with_verdict(MetricState(), m, "continue")
        for k, m in zip(keys, tpl.metrics, strict=True)
    }
    assert run_verdict([tpl], cont).verdict == "continue"
    one_failed = {**cont, keys[1]: with_verdict(MetricState(), THRESHOLD, "fail")}
    assert run_verdict([tpl], one_failed).verdict == "fail"
    assert run_verdict([tpl], one_failed).reason.startswith("t/rate:")
    passed = {
        k: with_verdict(MetricState(), m, "pass") for k, m in zip(keys, tpl.metrics, strict=True)
    }
    assert run_verdict([tpl], passed).verdict == "pass"
    doubt = {**passed, keys[0]: with_verdict(MetricState(), RATES, "inconclusive")}
    assert run_verdict([tpl], doubt).verdict == "inconclusive"


def test_no_data_is_never_a_silent_pass() -> None:
    tpl = template(RATES, no_data="pause")
    blind = {metric_key(tpl, RATES): with_verdict(MetricState(), RATES, "no-data")}
    assert run_verdict([tpl], blind).verdict == "inconclusive"
    assert run_verdict([tpl], blind, on_no_data="fail").verdict == "fail"
    assert run_verdict([tpl], blind, on_no_data="pass").verdict == "pass"


def test_mann_whitney_metrics_are_scored_together_once_all_have_their_window() -> None:
    other = P50.model_copy(update={"name": "p90"})
    tpl = template(P50, other)
    first = {metric_key(tpl, P50): with_verdict(MetricState(), P50, "fail")}
    assert run_verdict([tpl], first).verdict == "continue"
    both = {**first, metric_key(tpl, other): with_verdict(MetricState(), other, "pass")}
    result = run_verdict([tpl], both)
    assert result.score == 50.0 and result.verdict == "inconclusive"


def test_scheduled_overrides_every_metrics_interval_and_count() -> None:
    tpl = scheduled(template(RATES, THRESHOLD, P50), 2.0, 7)
    assert {(m.interval_s, m.count) for m in tpl.metrics} == {(2.0, 7)}
    assert tpl.metrics[0].judge.count == 7  # type: ignore[union-attr]
    assert scheduled(tpl, None, None) is tpl


# --- experiments ---------------------------------------------------------------------------

PLAN = ExperimentPlan(
    exposures="x",
    conversions="c",
    min_exposures=1000,
    count=10,
    config=ExperimentConfig(alpha=0.05),
)


def tallies(control: tuple[int, int], treatment: tuple[int, int]) -> dict[str, Tally]:
    return {
        "v1": Tally(exposures=control[0], conversions=control[1]),
        "v2": Tally(exposures=treatment[0], conversions=treatment[1]),
    }


def test_an_experiment_counts_from_its_start_and_waits_for_its_horizon() -> None:
    state = experiment_step(PLAN, "v1", "v2", ExperimentState(), tallies((5000, 500), (0, 0)))
    assert state.start is not None and state.looks == 0
    state = experiment_step(PLAN, "v1", "v2", state, tallies((5500, 550), (500, 100)))
    assert state.judgement is not None and state.judgement.verdict == "continue"
    assert state.judgement.baseline.n == 500 and state.judgement.canary.events == 100
    assert "500 of 1000 exposures" in state.judgement.reason


def test_the_better_treatment_wins_and_a_worse_one_loses() -> None:
    start = ExperimentState(start=tallies((0, 0), (0, 0)))
    better = experiment_step(PLAN, "v1", "v2", start, tallies((2000, 200), (2000, 400)))
    assert better.judgement is not None and better.judgement.verdict == "pass"
    assert better.winner == "v2"
    assert better.judgement.statistics["lower"] > 0
    worse = experiment_step(PLAN, "v1", "v2", start, tallies((2000, 400), (2000, 200)))
    assert worse.judgement is not None and worse.judgement.verdict == "fail"
    assert worse.winner == "v1"
    same = experiment_step(PLAN, "v1", "v2", start, tallies((2000, 200), (2000, 201)))
    assert same.judgement is not None and same.judgement.verdict == "inconclusive"


def test_a_sequential_experiment_decides_as_soon_as_the_interval_excludes_zero() -> None:
    plan = PLAN.model_copy(update={"config": ExperimentConfig(stopping="sequential")})
    state = ExperimentState(start=tallies((0, 0), (0, 0)))
    n = 0
    while state.judgement is None or state.judgement.verdict == "continue":
        n += 1
        state = experiment_step(
            plan, "v1", "v2", state, tallies((400 * n, 40 * n), (400 * n, 120 * n))
        )
    assert state.judgement.verdict == "pass" and state.winner == "v2"


def test_experiment_source_errors_fail_after_the_limit() -> None:
    state = ExperimentState()
    for _ in range(ERROR_LIMIT + 1):
        state = experiment_step(PLAN, "v1", "v2", state, None, "down")
    assert state.judgement is not None and state.judgement.verdict == "fail"
