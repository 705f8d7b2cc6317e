"""Turning Temporal failure chains into the one line a person needs."""

from __future__ import annotations

from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError


def failure_message(error: BaseException) -> str:
    """The innermost application message of an activity or child-workflow failure."""
    while isinstance(error, ActivityError | ChildWorkflowError | ApplicationError):
        if isinstance(error, ApplicationError) and error.message:
            return error.message
        if error.cause is None:
            break
        error = error.cause
    return str(error)
