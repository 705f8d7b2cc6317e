"""Slack Block Kit messages for gates, and the values their buttons carry (pure).

A gate's message names the release, the gate, where it stands, who may decide
and the instructions, with an Approve and a Reject button. Each button's value
is ``{"workflow": …, "gate": …}``, so the interactivity endpoint knows where to
send the ``decide`` Update. Once the gate closes, the message is replaced by a
summary without buttons.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from ferryman.approvals.views import GateView

APPROVE = "ferryman_approve"
REJECT = "ferryman_reject"
ACTIONS = {APPROVE: "approve", REJECT: "reject"}


class ButtonValue(BaseModel):
    """What a gate's button carries back to ferryman."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    workflow: str
    gate: str


def button_value(view: GateView) -> str:
    """The JSON value of the gate's buttons."""
    return ButtonValue(workflow=view.workflow_id, gate=view.gate).model_dump_json()


def parse_button_value(value: str) -> ButtonValue | None:
    """The button value, or None if it is not one of ours."""
    try:
        return ButtonValue.model_validate(json.loads(value))
    except (ValueError, ValidationError):
        return None


def _title(view: GateView, environment: str) -> str:
    where = f" in {view.region}" if view.region else ""
    env = f" to {environment}" if environment else ""
    version = f" (version {view.version})" if view.version else ""
    return f"*{view.release_id}*{env}{version}: gate *{view.gate}*{where} ({view.point})"


def _who(view: GateView) -> str:
    if not view.approvers:
        return "anyone"
    written = ", ".join(view.approvers_as_written)
    return f"{written} ({', '.join(view.may_decide) or 'nobody left'})"


def gate_text(view: GateView, environment: str = "", escalated: bool = False) -> str:
    """The plain-text fallback of a gate's message (notifications, screen readers)."""
    lead = "Escalated: " if escalated else "Approval needed: "
    return f"{lead}{view.release_id} gate {view.gate} ({view.required} approval(s) required)"


def gate_blocks(view: GateView, environment: str = "", escalated: bool = False) -> list[Any]:
    """The Block Kit blocks of a gate waiting for decisions."""
    lead = ":rotating_light: *Escalated* — " if escalated else ":raised_hand: "
    fields = [
        f"*Needs:* {view.required} approval(s)",
        f"*Who may decide:* {_who(view)}",
        f"*Requested by:* {view.requested_by or 'unknown'}",
    ]
    if view.deadline:
        fields.append(f"*Deadline:* {view.deadline}")
    if view.inputs:
        names = ", ".join(
            f"{k}{'*' if s.required else ''}" + (f" ({s.pattern})" if s.pattern else "")
            for k, s in view.inputs.items()
        )
        fields.append(f"*Inputs:* {names} (give them with `ferryman approve --input`)")
    blocks: list[Any] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": lead + _title(view, environment)}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
    ]
    if view.instructions:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": f">{view.instructions}"}}
        )
    value = button_value(view)
    blocks.append(
        {
            "type": "actions",
            "block_id": "ferryman_gate",
            "elements": [
                {
                    "type": "button",
                    "action_id": APPROVE,
                    "style": "primary",
                    "text": {"type": "plain_text", "text": "Approve"},
                    "value": value,
                },
                {
                    "type": "button",
                    "action_id": REJECT,
                    "style": "danger",
                    "text": {"type": "plain_text", "text": "Reject"},
                    "value": value,
                },
            ],
        }
    )
    return blocks


def outcome_blocks(view: GateView, summary: str) -> list[Any]:
    """The blocks replacing a gate's message once it closed (no buttons)."""
    mark = ":white_check_mark:" if view.status == "approved" else ":no_entry:"
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": _title(view, "")}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"{mark} {summary}"}]},
    ]
