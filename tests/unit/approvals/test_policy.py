"""The gate policy (pure): who may decide, N of M, separation of duties, inputs, closing."""

from __future__ import annotations

import pytest

from ferryman.approvals.policy import (
    GateDecision,
    GateState,
    Refusal,
    check,
    describe_close,
    may_still_decide,
    opened,
    record,
    timed_out,
)
from ferryman.identity.models import Directory
from ferryman.identity.tokens import hash_token
from ferryman.plan.models import GateInputPlan, GatePlan

DIRECTORY = Directory.model_validate(
    {
        "users": {n: {"token": hash_token("x")} for n in ("alice", "bob", "carol", "dave", "erin")},
        "groups": {"release-managers": ["alice", "bob", "carol"], "sre": ["dave"]},
    }
)


def gate(**changes: object) -> GatePlan:
    fields: dict[str, object] = {
        "name": "go-live",
        "at": "before-environment",
        "approvers": DIRECTORY.expand(["release-managers"]),
        "approvers_as_written": ("release-managers",),
        "required": 2,
    }
    return GatePlan.model_validate({**fields, **changes})


OPEN = opened(GateState(), "2026-01-01T00:00:00+00:00")


def approve(user: str, **fields: object) -> GateDecision:
    return GateDecision.model_validate({"user": user, "verdict": "approve", **fields})


def reject(user: str, **fields: object) -> GateDecision:
    return GateDecision.model_validate({"user": user, "verdict": "reject", **fields})


def refusal(plan: GatePlan, state: GateState, decision: GateDecision, **kw: object) -> Refusal:
    with pytest.raises(Refusal) as refused:
        check(plan, state, decision, **kw)  # type: ignore[arg-type]
    assert "\n" not in refused.value.message
    return refused.value


def decide(plan: GatePlan, state: GateState, *decisions: GateDecision) -> GateState:
    for decision in decisions:
        check(plan, state, decision, requested_by="erin")
        state = record(plan, state, decision, "2026-01-01T00:01:00+00:00")
    return state


def test_n_distinct_of_m_pass_the_gate() -> None:
    plan = gate(required=2)
    one = decide(plan, OPEN, approve("alice"))
    assert one.status == "open" and one.approvals == ("alice",)
    two = decide(plan, one, approve("bob"))
    assert two.status == "approved" and two.approvals == ("alice", "bob")
    assert describe_close(two) == "approved by alice, bob"


def test_the_same_approver_twice_does_not_count_twice() -> None:
    plan = gate(required=2)
    state = decide(plan, OPEN, approve("alice"))
    refused = refusal(plan, state, approve("alice"))
    assert refused.kind == "conflict"
    assert refused.message == "alice already approved gate go-live"
    assert refusal(plan, state, reject("alice")).kind == "conflict", "no change of mind either"


def test_the_requester_may_not_approve_their_own_release_but_may_reject_it() -> None:
    plan = gate(required=1)
    refused = refusal(plan, OPEN, approve("alice"), requested_by="alice")
    assert refused.kind == "forbidden"
    assert "separation of duties" in refused.message
    check(plan, OPEN, reject("alice"), requested_by="alice")
    check(gate(allow_self_approval=True), OPEN, approve("alice"), requested_by="alice")


def test_the_requester_is_not_counted_among_who_may_still_decide() -> None:
    plan = gate()
    assert may_still_decide(plan, OPEN, "alice") == ("bob", "carol")
    assert may_still_decide(gate(allow_self_approval=True), OPEN, "alice") == (
        "alice",
        "bob",
        "carol",
    )


def test_an_unknown_user_is_refused() -> None:
    known = frozenset(DIRECTORY.users)
    refused = refusal(gate(), OPEN, approve("mallory"), known_users=known)
    assert refused.kind == "forbidden" and refused.message == "unknown user 'mallory'"


def test_group_membership_decides_who_may_approve() -> None:
    plan = gate()
    assert plan.approvers == ("alice", "bob", "carol")
    check(plan, OPEN, approve("carol"))
    refused = refusal(plan, OPEN, approve("dave"))
    assert refused.kind == "forbidden"
    assert refused.message == "dave may not decide gate go-live (approvers: alice, bob, carol)"


def test_a_gate_without_approvers_takes_anyone() -> None:
    check(gate(approvers=(), required=1), OPEN, approve("whoever"))


def test_decisions_after_the_gate_closed_are_refused() -> None:
    plan = gate(required=1)
    approved = decide(plan, OPEN, approve("alice", comment="looks good"))
    refused = refusal(plan, approved, approve("bob"))
    assert refused.kind == "conflict"
    assert refused.message == "gate go-live is closed (approved by alice)"
    rejected = decide(gate(), OPEN, reject("bob", comment="dashboards red"))
    assert rejected.status == "rejected"
    refused = refusal(gate(), rejected, approve("carol"))
    assert refused.message == "gate go-live is closed (rejected by bob: dashboards red)"
    timed, _ = timed_out(gate(), OPEN, "later")
    assert refusal(gate(), timed, approve("carol")).message == "gate go-live is closed (timed out)"


def test_a_gate_not_open_yet_takes_no_decision_unless_early() -> None:
    refused = refusal(gate(), GateState(), approve("alice"))
    assert refused.message == "gate go-live is not open yet"
    check(gate(), GateState(), approve("alice"), early=True)
    state = record(gate(required=1), GateState(), approve("alice"), "t")
    assert state.status == "approved" and state.opened_at == "t"


def test_one_rejection_closes_the_gate_whatever_the_approvals() -> None:
    plan = gate(required=2)
    state = decide(plan, OPEN, approve("alice"), reject("bob"))
    assert state.status == "rejected"


TICKET = {"ticket": GateInputPlan(pattern="CHG-[0-9]+", required=True)}


def test_inputs_must_match_their_regex_entirely() -> None:
    plan = gate(required=1, inputs=TICKET)
    refused = refusal(plan, OPEN, approve("alice", inputs={"ticket": "CHG-12x"}))
    assert refused.kind == "invalid"
    assert refused.message == "input ticket 'CHG-12x' does not match CHG-[0-9]+"
    refused = refusal(plan, OPEN, approve("alice", inputs={"ticket": "see CHG-12"}))
    assert refused.kind == "invalid"
    check(plan, OPEN, approve("alice", inputs={"ticket": "CHG-12"}))


def test_required_inputs_are_needed_to_approve_not_to_reject() -> None:
    plan = gate(required=1, inputs=TICKET)
    refused = refusal(plan, OPEN, approve("alice"))
    assert refused.message == "gate go-live needs input ticket to approve"
    check(plan, OPEN, reject("alice"))
    unknown = refusal(plan, OPEN, reject("alice", inputs={"tiket": "x"}))
    assert unknown.message == "gate go-live has no input 'tiket' (inputs: ticket)"


def test_escalation_widens_the_approvers_once_then_the_timeout_rejects() -> None:
    plan = gate(
        required=1,
        timeout_s=60,
        on_timeout="escalate",
        escalate_to=("dave",),
        escalate_as_written=("sre",),
    )
    assert refusal(plan, OPEN, approve("dave")).kind == "forbidden"
    escalated, action = timed_out(plan, OPEN, "t1")
    assert action == "escalate" and escalated.status == "open" and escalated.escalated
    check(plan, escalated, approve("dave"))
    final, action = timed_out(plan, escalated, "t2")
    assert action == "reject" and final.status == "timed-out"


def test_on_timeout_approve_passes_the_gate() -> None:
    state, action = timed_out(gate(timeout_s=5, on_timeout="approve"), OPEN, "t")
    assert action == "approve" and state.status == "approved"
    assert describe_close(state) == "approved by the timeout policy"
