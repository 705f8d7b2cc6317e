"""Judging smoke answers: did a request reach the version it should, and answer as expected."""

from __future__ import annotations

from ferryman.deploy.steps import SmokeCheck

ATTEMPTS_PER_CHECK = 3


def judge(check: SmokeCheck, version: str, served: str, status: int, text: str) -> str:
    """Why an answer fails ``check`` for ``version``, or ``""`` when it passes.

    Args:
        check: The check the request was sent for.
        version: The version that should have answered.
        served: The version that did answer (the router's ``X-Ferryman-Version``).
        status: The answer's HTTP status.
        text: The answer's body.
    """
    where = f"GET {check.path}"
    if served != version:
        return f"{where} was served by version {served}, not {version}"
    if status != check.status:
        return f"{where} answered {status}, expected {check.status}"
    if check.contains is not None and check.contains not in text:
        return f"{where} did not contain {check.contains!r}"
    return ""
