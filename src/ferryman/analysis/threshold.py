"""The ``threshold`` judge: Argo Rollouts' AnalysisRun rules for one metric.

Each interval gives one *measurement*: a value (a number or a list) or an
error. A value is *successful*, *failed* or *inconclusive* by the conditions:

- only ``success_condition``: true is successful, false is failed;
- only ``failure_condition``: true is failed, false is successful;
- both: failure wins when it holds, then success; neither holding is
  inconclusive.

A measurement without a value (no data, the source failed, the condition
could not be evaluated) is an *error*. After each measurement the run

- fails when failed measurements > ``failure_limit``;
- is inconclusive (pauses for a human) when inconclusive > ``inconclusive_limit``;
- stops when consecutive errors > ``consecutive_error_limit``: ``no-data`` if
  every one of them was missing data, ``fail`` otherwise;
- passes once ``count`` measurements are taken; otherwise continues.

Thread the state through the workflow::

    state = ThresholdState()
    for value in values_each_interval:
        state, judgement = threshold_step("errors", config, state, value)
        if judgement.verdict != "continue":
            break
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ferryman.analysis import expressions
from ferryman.analysis.expressions import EvaluationError, Value
from ferryman.analysis.models import Frozen, Judgement, SampleSummary, Verdict, finite, number

Outcome = Literal["successful", "failed", "inconclusive", "error"]


class ThresholdConfig(Frozen):
    """Conditions and limits of a threshold judge (Argo's names in snake case).

    Attributes:
        kind: Tells the judges apart in a plan.
        success_condition: When a measurement is successful, e.g. ``result < 0.01``.
        failure_condition: When a measurement is failed, e.g. ``result >= 0.05``.
        failure_limit: Failed measurements tolerated.
        inconclusive_limit: Inconclusive measurements tolerated.
        consecutive_error_limit: Consecutive errors tolerated.
        count: Measurements to take before passing.
        interval_s: Seconds between measurements (the caller's clock, not ours).
    """

    kind: Literal["threshold"] = "threshold"
    success_condition: str | None = None
    failure_condition: str | None = None
    failure_limit: int = Field(default=0, ge=0)
    inconclusive_limit: int = Field(default=0, ge=0)
    consecutive_error_limit: int = Field(default=4, ge=0)
    count: int = Field(default=1, ge=1)
    interval_s: float = Field(default=60.0, gt=0)

    @model_validator(mode="after")
    def _conditions(self) -> ThresholdConfig:
        if self.success_condition is None and self.failure_condition is None:
            raise ValueError("a threshold needs a success-condition or a failure-condition")
        for condition in (self.success_condition, self.failure_condition):
            if condition is not None:
                expressions.parse(condition)
        return self


class ThresholdState(Frozen):
    """What a threshold judge remembers between measurements."""

    measurements: int = 0
    successful: int = 0
    failed: int = 0
    inconclusive: int = 0
    errors: int = 0
    consecutive_errors: int = 0
    consecutive_no_data: int = 0
    last_value: float | None = None
    last_error: str | None = None


def classify(config: ThresholdConfig, value: Value) -> tuple[Outcome, str]:
    """Classify one value by the conditions.

    Returns:
        The outcome and, for an error, why.
    """
    try:
        failed = config.failure_condition is not None and expressions.evaluate(
            config.failure_condition, value
        )
        if failed:
            return "failed", ""
        if config.success_condition is None:
            return "successful", ""
        if expressions.evaluate(config.success_condition, value):
            return "successful", ""
    except EvaluationError as error:
        return "error", str(error)
    return ("inconclusive" if config.failure_condition is not None else "failed"), ""


def threshold_step(
    metric: str,
    config: ThresholdConfig,
    state: ThresholdState,
    value: Value | None,
    error: str | None = None,
) -> tuple[ThresholdState, Judgement]:
    """Take one measurement and judge the run so far.

    Args:
        metric: The metric's name, for the record.
        config: Conditions and limits.
        state: What previous measurements left (``ThresholdState()`` at first).
        value: The measurement; ``None`` when the source had no data or failed.
        error: Why there is no value (the source's message); ``None`` with a
            missing value means no data.

    Returns:
        The new state and the judgement: ``continue`` until a rule decides.
    """
    if value is None:
        outcome: Outcome = "error"
        why = error or "no data"
    else:
        outcome, why = classify(config, value)
    shown = _scalar(value)
    no_data = value is None and error is None
    state = state.model_copy(
        update={
            "measurements": state.measurements + 1,
            "successful": state.successful + (outcome == "successful"),
            "failed": state.failed + (outcome == "failed"),
            "inconclusive": state.inconclusive + (outcome == "inconclusive"),
            "errors": state.errors + (outcome == "error"),
            "consecutive_errors": state.consecutive_errors + 1 if outcome == "error" else 0,
            "consecutive_no_data": state.consecutive_no_data + 1 if no_data else 0,
            "last_value": shown if shown is not None else state.last_value,
            "last_error": why if outcome == "error" else state.last_error,
        }
    )
    verdict, reason = _assess(config, state, outcome, shown)
    return state, Judgement(
        metric=metric,
        judge="threshold",
        verdict=verdict,
        canary=SampleSummary(n=state.measurements, mean=state.last_value),
        statistics=finite(
            {
                "measurements": state.measurements,
                "successful": state.successful,
                "failed": state.failed,
                "inconclusive": state.inconclusive,
                "errors": state.errors,
                "consecutive_errors": state.consecutive_errors,
                "value": shown,
            }
        ),
        reason=reason,
    )


def _assess(
    config: ThresholdConfig, state: ThresholdState, outcome: Outcome, shown: float | None
) -> tuple[Verdict, str]:
    this = f"measurement {state.measurements} {outcome}"
    if outcome == "error":
        this += f" ({state.last_error})"
    elif shown is not None:
        this += f" (result={number(shown)})"
    if state.failed > config.failure_limit:
        return "fail", f"{this}; {state.failed} failed > failure-limit {config.failure_limit}"
    if state.inconclusive > config.inconclusive_limit:
        limit = config.inconclusive_limit
        return "inconclusive", f"{this}; {state.inconclusive} inconclusive > limit {limit}"
    if state.consecutive_errors > config.consecutive_error_limit:
        limit = config.consecutive_error_limit
        run = f"{state.consecutive_errors} consecutive errors > consecutive-error-limit {limit}"
        if state.consecutive_no_data == state.consecutive_errors:
            return "no-data", f"{this}; {run}, all without data"
        return "fail", f"{this}; {run}"
    if state.measurements >= config.count:
        return "pass", (
            f"{state.measurements} measurements: {state.successful} successful, "
            f"{state.failed} failed, {state.inconclusive} inconclusive, {state.errors} errors"
        )
    return "continue", f"{this}; {state.measurements} of {config.count} measurements"


def _scalar(value: Value | None) -> float | None:
    if isinstance(value, list):
        return float(value[0]) if len(value) == 1 else None
    return None if value is None else float(value)
