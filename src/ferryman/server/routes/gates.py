"""Gates over HTTP: list the pending ones, approve or reject, read a release's audit trail.

Every route needs ``Authorization: Bearer <token>``. Decisions are sent as the
token's user through the same client code as the CLI, so the workflow's policy
judges them alike. Release ids contain slashes and go in the path as they are::

    POST /api/v1/releases/release/shop/prod/3/gates/go-live/approve
    {"comment": "dashboards green", "inputs": {"ticket": "CHG-1234"}}
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from ferryman.approvals.audit import AuditEvent
from ferryman.approvals.policy import MAX_TEXT, GateDecision, Verdict
from ferryman.approvals.views import GateView
from ferryman.server.auth import authenticated_user
from ferryman.server.context import context_of
from ferryman.temporal.client.gates import decide, pending_gates, release_audit

router = APIRouter(tags=["gates"])
User = Annotated[str, Depends(authenticated_user)]


class DecisionBody(BaseModel):
    """What an approver sends with a decision."""

    comment: str = Field(default="", max_length=MAX_TEXT)
    inputs: dict[str, str] = Field(default_factory=dict)
    region: str | None = Field(default=None, description="The region, for a promotion gate.")


class DecisionAnswer(BaseModel):
    """Where the gate stands after the decision."""

    release: str
    gate: str
    user: str
    verdict: Verdict
    answer: str


@router.get("/gates")
async def list_gates(request: Request, user: User, release: str | None = None) -> list[GateView]:
    """Every gate waiting for a decision (of one release with ``?release=``)."""
    return await pending_gates(await context_of(request).client(), release)


@router.get("/releases/{release_id:path}/audit")
async def audit(request: Request, release_id: str, user: User) -> list[AuditEvent]:
    """Every gate event of a release and its region deploys, in time order."""
    return await release_audit(await context_of(request).client(), release_id)


async def _decide(
    request: Request, release_id: str, gate: str, user: str, verdict: Verdict, body: DecisionBody
) -> DecisionAnswer:
    decision = GateDecision(
        gate=gate,
        verdict=verdict,
        user=user,
        comment=body.comment,
        inputs=body.inputs,
        channel="http",
    )
    client = await context_of(request).client()
    answer = await decide(client, release_id, decision, body.region)
    return DecisionAnswer(release=release_id, gate=gate, user=user, verdict=verdict, answer=answer)


@router.post("/releases/{release_id:path}/gates/{gate}/approve")
async def approve(
    request: Request, release_id: str, gate: str, user: User, body: DecisionBody | None = None
) -> DecisionAnswer:
    """Approve ``gate`` of ``release_id`` as the token's user."""
    return await _decide(request, release_id, gate, user, "approve", body or DecisionBody())


@router.post("/releases/{release_id:path}/gates/{gate}/reject")
async def reject(
    request: Request, release_id: str, gate: str, user: User, body: DecisionBody | None = None
) -> DecisionAnswer:
    """Reject ``gate`` of ``release_id`` as the token's user (the release is restored)."""
    return await _decide(request, release_id, gate, user, "reject", body or DecisionBody())
