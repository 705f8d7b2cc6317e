"""A pending gate as people see it (pure): in ``ferryman gates``, the HTTP API and Slack."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ferryman.approvals.policy import GateState, eligible, may_still_decide
from ferryman.plan.models import GateInputPlan, GatePlan


class GateView(BaseModel):
    """A gate, where it stands, and who may still decide it.

    Attributes:
        release_id: The release.
        workflow_id: The workflow that takes the ``decide`` Update.
        region: The region (promotion gates), else "".
        gate: The gate's name.
        point: Where it stands (``before-environment``, ``after-wave 1``, ``promotion``).
        status: ``open``, ``approved``…
        opened_at: Since when it waits.
        deadline: When its timeout ends ("" without one).
        approvers: Users who may decide (empty: anyone).
        approvers_as_written: The spec's users and groups.
        may_decide: Approvers who have not decided and are not barred.
        required: Approvals needed.
        approvals: Who approved so far.
        requested_by: Who started the release.
        instructions: Shown to approvers.
        inputs: Values an approval must or may carry.
        escalated: Whether the timeout widened the approvers.
        channel: The Slack channel, if any.
        version: The version the release deploys, when known.
    """

    model_config = ConfigDict(frozen=True)

    release_id: str
    workflow_id: str
    region: str = ""
    gate: str
    point: str
    status: str
    opened_at: str = ""
    deadline: str = ""
    approvers: tuple[str, ...] = ()
    approvers_as_written: tuple[str, ...] = ()
    may_decide: tuple[str, ...] = ()
    required: int = 1
    approvals: tuple[str, ...] = ()
    requested_by: str = ""
    instructions: str = ""
    inputs: dict[str, GateInputPlan] = Field(default_factory=dict)
    escalated: bool = False
    channel: str | None = None
    version: str = ""


def view_of(
    gate: GatePlan,
    state: GateState,
    *,
    release_id: str,
    workflow_id: str,
    region: str = "",
    requested_by: str = "",
    deadline: str = "",
    version: str = "",
) -> GateView:
    """The view of ``gate`` in ``state``."""
    written = gate.approvers_as_written + (gate.escalate_as_written if state.escalated else ())
    return GateView(
        release_id=release_id,
        workflow_id=workflow_id,
        region=region,
        gate=gate.name,
        point=gate.point,
        status=state.status,
        opened_at=state.opened_at,
        deadline=deadline,
        approvers=eligible(gate, state),
        approvers_as_written=written,
        may_decide=may_still_decide(gate, state, requested_by),
        required=gate.required,
        approvals=state.approvals,
        requested_by=requested_by,
        instructions=gate.instructions,
        inputs=dict(gate.inputs),
        escalated=state.escalated,
        channel=gate.channel,
        version=version,
    )
