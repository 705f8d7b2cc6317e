"""Who approved the gate and how long it waited, read back from its audit trail."""

from __future__ import annotations

from ferryman.approvals.audit import AuditEvent
from ferryman.demo.gate import approval


def event(kind: str, at: str, user: str = "ferryman") -> AuditEvent:
    return AuditEvent(at=at, kind=kind, gate="go-live", release_id="r", workflow_id="r", user=user)  # type: ignore[arg-type]


def test_the_approver_and_the_wait_come_from_the_trail() -> None:
    trail = [
        event("opened", "2026-01-01T10:00:00+00:00"),
        event("notified", "2026-01-01T10:00:01+00:00"),
        event("approved", "2026-01-01T10:00:02.500000+00:00", user="demo-approver"),
    ]
    assert approval(trail) == ("demo-approver", 2.5)


def test_an_undecided_gate_has_no_approver() -> None:
    assert approval([event("opened", "2026-01-01T10:00:00+00:00")]) == ("", 0.0)
    assert approval([]) == ("", 0.0)
