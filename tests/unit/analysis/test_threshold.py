"""The threshold judge follows Argo Rollouts' AnalysisRun rules."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ferryman.analysis import Judgement, ThresholdConfig, ThresholdState, threshold_step
from ferryman.analysis.expressions import Value

Measurement = Value | None | tuple[None, str]


def run(config: ThresholdConfig, values: list[Measurement]) -> list[Judgement]:
    state = ThresholdState()
    judgements = []
    for value in values:
        if isinstance(value, tuple):
            state, judged = threshold_step("m", config, state, None, error=value[1])
        else:
            state, judged = threshold_step("m", config, state, value)
        judgements.append(judged)
        if judged.verdict != "continue":
            break
    return judgements


def test_success_only_passes_after_count() -> None:
    config = ThresholdConfig(success_condition="result < 0.01", count=3)
    verdicts = [j.verdict for j in run(config, [0.001, 0.002, 0.003])]
    assert verdicts == ["continue", "continue", "pass"]


def test_failed_beyond_failure_limit_fails() -> None:
    config = ThresholdConfig(success_condition="result < 0.01", failure_limit=2, count=10)
    judgements = run(config, [0.02, 0.001, 0.02, 0.02, 0.001])
    assert [j.verdict for j in judgements] == ["continue"] * 3 + ["fail"]
    assert "3 failed > failure-limit 2" in judgements[-1].reason
    assert judgements[-1].statistics["failed"] == 3


def test_failures_within_limit_still_pass_at_count() -> None:
    config = ThresholdConfig(success_condition="result < 0.01", failure_limit=2, count=4)
    assert run(config, [0.02, 0.02, 0.001, 0.001])[-1].verdict == "pass"


def test_failure_condition_only() -> None:
    config = ThresholdConfig(failure_condition="result > 0.05", count=2)
    assert run(config, [0.04, 0.06])[-1].verdict == "fail"
    assert run(config, [0.04, 0.05])[-1].verdict == "pass"


def test_neither_condition_is_inconclusive_and_pauses() -> None:
    config = ThresholdConfig(
        success_condition="result < 0.01", failure_condition="result > 0.05", count=5
    )
    judgements = run(config, [0.001, 0.03])
    assert judgements[-1].verdict == "inconclusive"
    assert "1 inconclusive > limit 0" in judgements[-1].reason


def test_inconclusive_limit() -> None:
    config = ThresholdConfig(
        success_condition="result < 0.01",
        failure_condition="result > 0.05",
        inconclusive_limit=1,
        count=3,
    )
    assert [j.verdict for j in run(config, [0.03, 0.001, 0.001])] == [
        "continue",
        "continue",
        "pass",
    ]
    assert run(config, [0.03, 0.03])[-1].verdict == "inconclusive"


def test_failure_condition_wins_when_both_hold() -> None:
    config = ThresholdConfig(success_condition="result > 0", failure_condition="result > 1")
    assert run(config, [2.0])[-1].verdict == "fail"


def test_consecutive_errors_beyond_limit_fail() -> None:
    config = ThresholdConfig(success_condition="result < 1", count=10)  # limit 4 by default
    judgements = run(config, [(None, "prometheus timed out")] * 5)
    assert [j.verdict for j in judgements] == ["continue"] * 4 + ["fail"]
    assert "5 consecutive errors > consecutive-error-limit 4" in judgements[-1].reason
    assert "prometheus timed out" in judgements[-1].reason


def test_an_answer_resets_consecutive_errors() -> None:
    config = ThresholdConfig(success_condition="result < 1", consecutive_error_limit=1, count=6)
    values: list[Measurement] = [None, 0.5, None, 0.5, None, 0.5]
    assert run(config, values)[-1].verdict == "pass"
    assert run(config, [None, None])[-1].verdict == "no-data"


def test_consecutive_missing_data_is_no_data_not_pass() -> None:
    config = ThresholdConfig(success_condition="result < 1", consecutive_error_limit=2, count=3)
    judgements = run(config, [None, None, None])
    assert judgements[-1].verdict == "no-data"
    assert "all without data" in judgements[-1].reason


def test_condition_that_cannot_be_evaluated_is_an_error() -> None:
    config = ThresholdConfig(success_condition="result[2] < 1", consecutive_error_limit=0)
    judged = run(config, [[0.1]])[-1]
    assert judged.verdict == "fail"
    assert "cannot evaluate" in judged.reason


def test_config_needs_a_condition_and_refuses_unsafe_ones() -> None:
    with pytest.raises(ValidationError, match="success-condition or a failure-condition"):
        ThresholdConfig()
    with pytest.raises(ValidationError, match="attribute access"):
        ThresholdConfig(success_condition="result.real < 1")


def test_state_round_trips_through_json() -> None:
    config = ThresholdConfig(success_condition="result < 0.01", failure_limit=1, count=5)
    state = ThresholdState()
    for value in (0.02, 0.001):
        state, _ = threshold_step("m", config, state, value)
    again = ThresholdState.model_validate_json(state.model_dump_json())
    assert again == state
    _, judged = threshold_step("m", config, again, 0.02)
    assert judged.verdict == "fail"
