"""Inputs and results of the gate notification activities (no secret ever travels here)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ferryman.approvals.audit import AuditEvent
from ferryman.approvals.policy import GateState
from ferryman.approvals.views import GateView


class _Msg(BaseModel):
    model_config = ConfigDict(frozen=True)


NoticeKind = Literal["opened", "escalated"]


class GateNotice(_Msg):
    """Post a gate to its channel: it opened, or it escalated to more approvers.

    Attributes:
        kind: Why the message is posted.
        view: The gate as approvers see it.
        environment: The environment released to.
    """

    kind: NoticeKind = "opened"
    view: GateView
    environment: str = ""


class GatePost(_Msg):
    """Where a gate's message was posted, so it can be updated once decided."""

    channel: str
    ts: str


class GateOutcomeNotice(_Msg):
    """Update a posted message once the gate closed.

    Attributes:
        post: The message to update.
        view: The gate as it closed.
        summary: What happened, in one line ("approved by alice, bob").
    """

    post: GatePost
    view: GateView
    summary: str


class GateSnapshot(_Msg):
    """Everything a workflow's gates know, carried across continue-as-new."""

    states: dict[str, GateState] = Field(default_factory=dict)
    deadlines: dict[str, str] = Field(default_factory=dict)
    posts: dict[str, list[GatePost]] = Field(default_factory=dict)
    audit: tuple[AuditEvent, ...] = ()
    version: str = ""
