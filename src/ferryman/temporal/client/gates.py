"""Gates from a client: list the pending ones, send decisions, read the audit trail.

Pending gates are found with one visibility query (``FerrymanPhase =
'awaiting-approval'``: releases and region deploys carry the attribute) and
read from each workflow's memo, so listing works while no worker answers. A
decision goes to the workflow holding the gate as a ``decide`` Update; its
validator applies the policy, and a refusal comes back as a one-line
:class:`GateRefused` whose ``kind`` the CLI and the HTTP API turn into an exit
or status code.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from temporalio.client import Client, WorkflowQueryFailedError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from ferryman.approvals.audit import AuditEvent, merged
from ferryman.approvals.policy import GateDecision
from ferryman.approvals.views import GateView
from ferryman.errors import ReleaseError
from ferryman.temporal.client.releases import release_progress
from ferryman.temporal.names import PHASE, region_deploy_id
from ferryman.temporal.workflows.gates import REFUSED_PREFIX

RefusedKind = Literal["forbidden", "conflict", "invalid", "not-found", "unauthenticated"]
PENDING = f"{PHASE.name} = 'awaiting-approval' AND ExecutionStatus = 'Running'"
QUERY_TIMEOUT = timedelta(seconds=3)


class GateRefused(ReleaseError):
    """A decision that was not taken, with why (``kind``) in one line."""

    def __init__(self, kind: RefusedKind, message: str) -> None:
        super().__init__(message)
        self.kind: RefusedKind = kind
        self.message = message


async def pending_gates(client: Client, release: str | None = None) -> list[GateView]:
    """Every open gate (of one release, if given), the longest waiting first."""
    views: list[GateView] = []
    async for execution in client.list_workflows(PENDING):
        memo = await execution.memo()
        for raw in memo.get("gates", []) or []:
            view = GateView.model_validate(raw)
            if view.status == "open" and release in (None, view.release_id):
                views.append(view)
    return sorted(views, key=lambda v: (v.opened_at, v.release_id, v.region, v.gate))


def _target(
    release_id: str, decision: GateDecision, region: str | None, views: list[GateView]
) -> tuple[str, str]:
    candidates = [
        v
        for v in views
        if (not decision.gate or v.gate == decision.gate) and (region is None or v.region == region)
    ]
    if len(candidates) > 1:
        names = ", ".join(f"{v.gate}{' in ' + v.region if v.region else ''}" for v in candidates)
        raise GateRefused(
            "conflict", f"{release_id} has several gates pending ({names}): pass --gate/--region"
        )
    if candidates:
        return candidates[0].workflow_id, candidates[0].gate
    workflow_id = region_deploy_id(release_id, region) if region else release_id
    return workflow_id, decision.gate


async def decide(
    client: Client, release_id: str, decision: GateDecision, region: str | None = None
) -> str:
    """Send ``decision`` to the gate it is for; returns where the gate stands.

    Without ``decision.gate``, the release's only pending gate is decided.

    Raises:
        GateRefused: No such release or gate, several gates match, or the policy refuses.
    """
    workflow_id, gate = _target(
        release_id, decision, region, await pending_gates(client, release_id)
    )
    handle = client.get_workflow_handle(workflow_id)
    try:
        answer: str = await handle.execute_update(
            "decide", decision.model_copy(update={"gate": gate}), result_type=str
        )
        return answer
    except WorkflowUpdateFailedError as exc:
        raise refusal_of(exc.cause) from None
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND and "update" not in exc.message.lower():
            what = f"{release_id} in {region}" if region else repr(release_id)
            raise GateRefused("not-found", f"no running release {what}") from None
        raise GateRefused(
            "conflict", f"{workflow_id} takes no decision now: {exc.message}"
        ) from None


def refusal_of(cause: BaseException | None) -> GateRefused:
    """The refusal a failed ``decide`` Update stands for (its cause is the validator's error)."""
    if isinstance(cause, ApplicationError):
        kind = (cause.type or "").removeprefix(REFUSED_PREFIX)
        known: dict[str, RefusedKind] = {
            "forbidden": "forbidden",
            "conflict": "conflict",
            "invalid": "invalid",
            "not-found": "not-found",
        }
        return GateRefused(known.get(kind, "conflict"), cause.message)
    return GateRefused("conflict", str(cause))


async def _trail(client: Client, workflow_id: str) -> list[AuditEvent] | None:
    """A workflow's gate events: asked of a worker, else as last recorded in its memo."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        events: list[Any] = await handle.query(
            "audit", result_type=list[AuditEvent], rpc_timeout=QUERY_TIMEOUT
        )
        return list(events)
    except (RPCError, WorkflowQueryFailedError) as exc:
        if isinstance(exc, RPCError) and exc.status == RPCStatusCode.NOT_FOUND:
            return None
    try:
        memo = await (await handle.describe()).memo()
    except RPCError:
        return None
    return [AuditEvent.model_validate(raw) for raw in memo.get("audit", []) or []]


async def release_audit(client: Client, release_id: str) -> list[AuditEvent]:
    """Every gate event of a release and of its region deploys, in time order.

    Raises:
        GateRefused: No such release.
    """
    own = await _trail(client, release_id)
    if own is None:
        raise GateRefused("not-found", f"no release {release_id!r} (see `ferryman status`)")
    progress, _ = await release_progress(client, release_id)
    regions = [r for r, s in (progress.regions.items() if progress else []) if s != "pending"]
    trails = [own]
    for region in regions:
        trail = await _trail(client, region_deploy_id(release_id, region))
        if trail:
            trails.append(trail)
    return merged(*trails)
