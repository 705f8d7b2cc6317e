"""Who may decide a gate, and what a decision does to it (pure).

The rules, in the order they are checked (the first that fails is the refusal):

1. the user must be known (when the caller knows every user);
2. the gate must not be closed (approved, rejected, timed out, cancelled);
3. the gate must be open (a region's promotion gate also takes decisions early,
   while its hold is still ahead);
4. the user must be an approver (a user named, or a member of a group named, in
   ``approvers``, or in ``escalate-to`` once the gate escalated); a gate without
   approvers (a held promotion no policy covers) takes anyone;
5. nobody decides twice;
6. separation of duties: whoever started the release may not approve it,
   unless ``allow-self-approval`` (they may always reject it);
7. inputs: no unknown names; every required input with an approval; each value
   given must match its pattern entirely.

A gate passes once ``required`` distinct approvers approved; one rejection
closes it. ``check`` raises a :class:`Refusal` whose ``kind`` says what sort
of "no" it is (``forbidden``, ``conflict``, ``invalid``, ``not-found``), so the
CLI and the HTTP API can map it to exit codes and status codes.

Example::

    check(gate, state, GateDecision(verdict="approve", user="bob"), requested_by="alice")
    state = record(gate, state, decision, at=now)
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ferryman.plan.models import GatePlan

Verdict = Literal["approve", "reject"]
GateStatus = Literal["waiting", "open", "approved", "rejected", "timed-out", "cancelled"]
CLOSED: frozenset[str] = frozenset({"approved", "rejected", "timed-out", "cancelled"})
RefusalKind = Literal["forbidden", "conflict", "invalid", "not-found"]
MAX_TEXT = 2000


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class GateDecision(_Frozen):
    """A person's decision on a gate, as sent to the ``decide`` Update.

    Attributes:
        gate: The gate's name; empty: the only gate open.
        verdict: ``approve`` or ``reject``.
        user: Who decides (authenticated by the CLI, the server or Slack, not here).
        comment: Why, in their words.
        inputs: Values the gate asks for (e.g. a change ticket).
        channel: Where the decision came from: ``cli``, ``http``, ``slack``, ``promote``.
    """

    gate: str = ""
    verdict: Verdict = "approve"
    user: str
    comment: str = Field(default="", max_length=MAX_TEXT)
    inputs: dict[str, str] = Field(default_factory=dict)
    channel: str = "cli"


class Ballot(_Frozen):
    """A decision the gate took into account, with when."""

    user: str
    verdict: Verdict
    at: str
    comment: str = ""
    inputs: dict[str, str] = Field(default_factory=dict)
    channel: str = ""


class GateState(_Frozen):
    """Where a gate stands."""

    status: GateStatus = "waiting"
    ballots: tuple[Ballot, ...] = ()
    escalated: bool = False
    opened_at: str = ""
    closed_at: str = ""

    @property
    def closed(self) -> bool:
        """Whether no decision can change the gate any more."""
        return self.status in CLOSED

    @property
    def approvals(self) -> tuple[str, ...]:
        """Users who approved, in order."""
        return tuple(b.user for b in self.ballots if b.verdict == "approve")


class Refusal(ValueError):
    """A decision the policy refuses; ``kind`` says which sort of "no" it is."""

    def __init__(self, kind: RefusalKind, message: str) -> None:
        super().__init__(message)
        self.kind: RefusalKind = kind
        self.message = message


def eligible(gate: GatePlan, state: GateState) -> tuple[str, ...]:
    """Users who may decide (empty: anyone), counting the escalation once it happened."""
    if not state.escalated:
        return gate.approvers
    return tuple(sorted({*gate.approvers, *gate.escalate_to}))


def may_still_decide(gate: GatePlan, state: GateState, requested_by: str) -> tuple[str, ...]:
    """Eligible users who have not decided yet and are not barred from approving."""
    voted = {b.user for b in state.ballots}
    barred = {requested_by} if requested_by and not gate.allow_self_approval else set()
    return tuple(u for u in eligible(gate, state) if u not in voted and u not in barred)


def check(
    gate: GatePlan,
    state: GateState,
    decision: GateDecision,
    *,
    requested_by: str = "",
    known_users: frozenset[str] | None = None,
    early: bool = False,
) -> None:
    """Refuse ``decision`` unless the gate's policy allows it.

    Args:
        gate: The gate and its policy.
        state: Where the gate stands.
        decision: Who decides what.
        requested_by: Who started the release ("" when unknown: not enforced).
        known_users: Every user there is, when the caller knows them.
        early: Take decisions while the gate is still waiting to open.

    Raises:
        Refusal: With the reason in one line.
    """
    user, name = decision.user, gate.name
    if known_users is not None and user not in known_users:
        raise Refusal("forbidden", f"unknown user {user!r}")
    if state.closed:
        raise Refusal("conflict", f"gate {name} is closed ({describe_close(state)})")
    if state.status == "waiting" and not early:
        raise Refusal("conflict", f"gate {name} is not open yet")
    allowed = eligible(gate, state)
    if allowed and user not in allowed:
        raise Refusal(
            "forbidden", f"{user} may not decide gate {name} (approvers: {', '.join(allowed)})"
        )
    previous = next((b for b in state.ballots if b.user == user), None)
    if previous is not None:
        raise Refusal("conflict", f"{user} already {_past(previous.verdict)} gate {name}")
    if (
        decision.verdict == "approve"
        and requested_by
        and user == requested_by
        and not gate.allow_self_approval
    ):
        raise Refusal(
            "forbidden",
            f"{user} started this release and may not approve it (separation of duties)",
        )
    check_inputs(gate, decision)


def check_inputs(gate: GatePlan, decision: GateDecision) -> None:
    """Refuse unknown inputs, missing required ones (to approve) and values off their pattern.

    Raises:
        Refusal: Of kind ``invalid``.
    """
    for key, value in decision.inputs.items():
        spec = gate.inputs.get(key)
        if spec is None:
            known = ", ".join(gate.inputs) or "none"
            raise Refusal("invalid", f"gate {gate.name} has no input {key!r} (inputs: {known})")
        if len(value) > MAX_TEXT:
            raise Refusal("invalid", f"input {key} is longer than {MAX_TEXT} characters")
        if spec.pattern is not None and re.fullmatch(spec.pattern, value) is None:
            raise Refusal("invalid", f"input {key} {value!r} does not match {spec.pattern}")
    if decision.verdict == "approve":
        missing = [k for k, s in gate.inputs.items() if s.required and not decision.inputs.get(k)]
        if missing:
            raise Refusal(
                "invalid", f"gate {gate.name} needs input {', '.join(missing)} to approve"
            )


def outcome(gate: GatePlan, ballots: tuple[Ballot, ...]) -> GateStatus | None:
    """``rejected`` after any rejection, ``approved`` once enough distinct approvals, else None."""
    if any(b.verdict == "reject" for b in ballots):
        return "rejected"
    approvers = {b.user for b in ballots if b.verdict == "approve"}
    return "approved" if len(approvers) >= gate.required else None


def opened(state: GateState, at: str) -> GateState:
    """The gate, open from ``at`` on (unchanged if it already opened or closed)."""
    if state.status != "waiting":
        return state
    return state.model_copy(update={"status": "open", "opened_at": at})


def record(gate: GatePlan, state: GateState, decision: GateDecision, at: str) -> GateState:
    """The gate after an accepted ``decision`` (call :func:`check` first)."""
    ballot = Ballot(
        user=decision.user,
        verdict=decision.verdict,
        at=at,
        comment=decision.comment,
        inputs=dict(decision.inputs),
        channel=decision.channel,
    )
    ballots = (*state.ballots, ballot)
    state = opened(state, at).model_copy(update={"ballots": ballots})
    result = outcome(gate, ballots)
    if result is None:
        return state
    return state.model_copy(update={"status": result, "closed_at": at})


TimeoutAction = Literal["escalate", "approve", "reject"]


def timed_out(gate: GatePlan, state: GateState, at: str) -> tuple[GateState, TimeoutAction]:
    """The gate after its timeout passed, and what the policy did about it.

    ``escalate`` (once) widens the approvers to ``escalate-to`` and keeps the gate
    open for another timeout; a second timeout rejects. ``approve`` passes the
    gate; ``reject`` closes it as timed out.
    """
    if gate.on_timeout == "escalate" and not state.escalated:
        return state.model_copy(update={"escalated": True}), "escalate"
    if gate.on_timeout == "approve":
        return state.model_copy(update={"status": "approved", "closed_at": at}), "approve"
    return state.model_copy(update={"status": "timed-out", "closed_at": at}), "reject"


def cancelled(state: GateState, at: str) -> GateState:
    """The gate after the release stopped waiting for it (rolled back, failed, cancelled)."""
    if state.closed:
        return state
    return state.model_copy(update={"status": "cancelled", "closed_at": at})


def describe_close(state: GateState) -> str:
    """Why a closed gate closed, in a few words."""
    if state.status == "approved":
        who = ", ".join(state.approvals) or "the timeout policy"
        return f"approved by {who}"
    if state.status == "rejected":
        rejector = next((b for b in state.ballots if b.verdict == "reject"), None)
        if rejector is None:
            return "rejected"
        why = f": {rejector.comment}" if rejector.comment else ""
        return f"rejected by {rejector.user}{why}"
    if state.status == "timed-out":
        return "timed out"
    return state.status


def _past(verdict: Verdict) -> str:
    return "approved" if verdict == "approve" else "rejected"
