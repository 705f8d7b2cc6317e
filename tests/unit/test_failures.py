"""failure_message digs the application message out of nested failures."""

from __future__ import annotations

from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError, RetryState

from ferryman.temporal.failures import failure_message


def chained(error: Exception, cause: BaseException) -> Exception:
    error.__cause__ = cause
    return error


def test_activity_inside_child_inside_application() -> None:
    inner = ApplicationError("zone b of eu-1: 0/2 instances healthy")
    activity = ActivityError(
        "activity failed", scheduled_event_id=1, started_event_id=2, identity="w",
        activity_type="t", activity_id="1", retry_state=RetryState.NON_RETRYABLE_FAILURE,
    )  # fmt: skip
    chained(activity, inner)
    child = ChildWorkflowError(
        "child failed", namespace="default", workflow_id="w", run_id="r", workflow_type="t",
        initiated_event_id=1, started_event_id=2, retry_state=RetryState.NON_RETRYABLE_FAILURE,
    )  # fmt: skip
    chained(child, activity)
    assert failure_message(child) == "zone b of eu-1: 0/2 instances healthy"


def test_plain_errors_are_their_text() -> None:
    assert failure_message(ValueError("boom")) == "boom"
