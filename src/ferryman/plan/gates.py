"""Compile an environment's gates into ``GatePlan`` s (pure): groups resolved to users.

Groups are expanded once, at plan time, so a workflow judges membership from
its input alone (deterministically, whatever the config says later).
"""

from __future__ import annotations

from ferryman.errors import PlanError
from ferryman.identity.models import Directory
from ferryman.plan.models import GateInputPlan, GatePlan
from ferryman.spec.models import Environment


def compile_gates(
    name: str,
    environment: Environment,
    directory: Directory | None,
    waves: int,
    preview: bool = False,
) -> tuple[GatePlan, ...]:
    """The environment's gates, resolved against ``directory``.

    Args:
        name: The environment's name, for messages.
        environment: The environment of the spec.
        directory: The ferryman config (users and groups).
        waves: How many waves the environment's deploy has.
        preview: Without a config, keep approvers as written instead of failing
            (``ferryman plan`` shows a plan; it starts nothing).

    Raises:
        PlanError: There are gates but no config, or a name or wave the spec
            validation would have reported.
    """
    if not environment.gates:
        return ()
    if directory is None and not preview:
        raise PlanError(
            f"environment {name!r} has gates ({', '.join(environment.gates)}) but there is no "
            "ferryman config to resolve their approvers (start `ferryman dev` once, or "
            "`ferryman users add`)"
        )
    plans = []
    for gate_name, gate in environment.gates.items():
        unknown = directory.unknown((*gate.approvers, *gate.escalate_to)) if directory else []
        if unknown:
            raise PlanError(
                f"gate {gate_name!r} of {name}: unknown user or group {', '.join(unknown)}"
            )
        at, wave = gate.point
        if wave is not None and wave > waves:
            raise PlanError(f"gate {gate_name!r} of {name}: wave {wave} is beyond its {waves}")
        approvers = directory.expand(gate.approvers) if directory else gate.approvers
        if directory and gate.required > len(approvers):
            raise PlanError(
                f"gate {gate_name!r} of {name}: required {gate.required} but only "
                f"{len(approvers)} approver(s)"
            )
        plans.append(
            GatePlan(
                name=gate_name,
                at=at,
                wave=wave,
                approvers=approvers,
                approvers_as_written=gate.approvers,
                required=gate.required,
                allow_self_approval=gate.allow_self_approval,
                timeout_s=gate.timeout,
                on_timeout=gate.on_timeout,
                escalate_to=directory.expand(gate.escalate_to) if directory else gate.escalate_to,
                escalate_as_written=gate.escalate_to,
                instructions=gate.instructions,
                inputs={
                    key: GateInputPlan(
                        pattern=spec.pattern, required=spec.required, description=spec.description
                    )
                    for key, spec in gate.inputs.items()
                },
                channel=gate.channel,
            )
        )
    return tuple(plans)
