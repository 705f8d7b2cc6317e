"""The audit trail of gates (pure): one event per thing that happened to a gate.

Events are kept by the workflow that holds the gate (the release, or a region
deploy for a promotion gate) and answered by its ``audit`` query; decisions
also stay in the workflow's history as accepted Updates, with their payloads.

Kinds: ``opened`` (the release reached the gate), ``notified`` (a message was
posted, e.g. to Slack), ``approved`` and ``rejected`` (a person's decision, or
the timeout policy's), ``timed-out`` (the timeout rejected the gate),
``escalated`` (the timeout widened the approvers), ``cancelled`` (the release
stopped waiting: rolled back, failed or cancelled).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

AuditKind = Literal[
    "opened", "notified", "approved", "rejected", "timed-out", "escalated", "cancelled"
]
SYSTEM_USER = "ferryman"
"""Who an event is attributed to when no person caused it (timeouts, notifications)."""


class AuditEvent(BaseModel):
    """One thing that happened to a gate.

    Attributes:
        at: When (workflow time, ISO 8601).
        kind: What happened.
        gate: The gate's name.
        release_id: The release the gate belongs to.
        workflow_id: The workflow holding the gate (the release or a region deploy).
        region: The region, for a promotion gate.
        user: Who (``ferryman`` for the policy's own acts).
        comment: Their comment.
        inputs: The values they gave.
        channel: Where from (``cli``, ``http``, ``slack``, ``promote``) or where to
            (a Slack channel for ``notified``).
        detail: More, in a few words (the gate's status after the event).
    """

    model_config = ConfigDict(frozen=True)

    at: str
    kind: AuditKind
    gate: str
    release_id: str
    workflow_id: str
    region: str = ""
    user: str = SYSTEM_USER
    comment: str = ""
    inputs: dict[str, str] = Field(default_factory=dict)
    channel: str = ""
    detail: str = ""


def merged(*trails: tuple[AuditEvent, ...] | list[AuditEvent]) -> list[AuditEvent]:
    """Several workflows' trails as one, in time order (stable for equal times)."""
    return sorted((e for trail in trails for e in trail), key=lambda e: e.at)
