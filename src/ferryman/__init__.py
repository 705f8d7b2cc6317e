"""ferryman: a durable release engine on Temporal.

The public API is loaded lazily so that importing ``ferryman`` has no side
effects: Temporal's workflow sandbox re-imports packages, and an eager import
here would give the sandbox its own copies of the model classes.

Plan a release::

    from ferryman import compile_plan, load_spec

    plan = compile_plan(load_spec("ferryman.yaml"), "ferryman.yaml", "dev")

Start one, follow it and decide its gates (see ``ferryman.temporal.client.library``
and docs/library.md)::

    import ferryman

    client = await ferryman.connect(ferryman.Connection("localhost:7233"))
    handle = await ferryman.start_release(client, "ferryman.yaml", "prod")
    async for progress in ferryman.follow_release(client, handle.id):
        if progress.phase == "awaiting-approval":
            await ferryman.decide_gate(client, handle.id, user="alice", comment="go")

Run a release from your own workflow as a child (on ferryman's task queue)::

    result = await workflow.execute_child_workflow(
        ferryman.ReleaseWorkflow.run, plan, id=..., task_queue="ferryman"
    )

Contracts (versioned, JSON Schema: ``ferryman schema --list``): ``ReleasePlan``
in, ``ReleaseResult`` out; ``CustomStepInput`` is what a team's step receives,
``CustomStepResult`` what it may return.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "FerrymanError": "ferryman.errors",
    "SpecError": "ferryman.errors",
    "SpecIssue": "ferryman.errors",
    "PlanError": "ferryman.errors",
    "BuildError": "ferryman.errors",
    "ProviderError": "ferryman.errors",
    "ReleaseError": "ferryman.errors",
    "Spec": "ferryman.spec.models",
    "load_spec": "ferryman.spec.load",
    "ReleasePlan": "ferryman.plan.models",
    "compile_plan": "ferryman.plan.compile",
    "Provider": "ferryman.providers.base",
    "LocalProvider": "ferryman.providers.local",
    "ArtifactStore": "ferryman.build.artifacts",
    # ferryman as a library: connect, start, follow, decide.
    "Connection": "ferryman.temporal.client.connection",
    "connect": "ferryman.temporal.client.connection",
    "plan_release": "ferryman.temporal.client.library",
    "start_release": "ferryman.temporal.client.library",
    "follow_release": "ferryman.temporal.client.library",
    "decide_gate": "ferryman.temporal.client.library",
    "release_progress": "ferryman.temporal.client.releases",
    "pending_gates": "ferryman.temporal.client.gates",
    "serve_regions_on_dev_stack": "ferryman.devstack.stack",
    "GateRefused": "ferryman.temporal.client.gates",
    "GateDecision": "ferryman.approvals.policy",
    "Decision": "ferryman.temporal.models.region",
    # The release workflow (to run as a child) and its contracts.
    "ReleaseWorkflow": "ferryman.temporal.workflows.release",
    "ReleaseResult": "ferryman.temporal.models.release",
    "ReleaseProgress": "ferryman.temporal.models.release",
    "ReleaseContinuation": "ferryman.temporal.models.release",
    # Teams' steps: what their workers receive and may return.
    "CustomStepInput": "ferryman.temporal.models.custom",
    "CustomStepResult": "ferryman.temporal.models.custom",
    "WebhookResult": "ferryman.temporal.models.custom",
}

__all__ = [
    "ArtifactStore",
    "BuildError",
    "Connection",
    "CustomStepInput",
    "CustomStepResult",
    "Decision",
    "FerrymanError",
    "GateDecision",
    "GateRefused",
    "LocalProvider",
    "PlanError",
    "Provider",
    "ProviderError",
    "ReleaseContinuation",
    "ReleaseError",
    "ReleasePlan",
    "ReleaseProgress",
    "ReleaseResult",
    "ReleaseWorkflow",
    "Spec",
    "SpecError",
    "SpecIssue",
    "WebhookResult",
    "__version__",
    "compile_plan",
    "connect",
    "decide_gate",
    "follow_release",
    "load_spec",
    "pending_gates",
    "plan_release",
    "release_progress",
    "serve_regions_on_dev_stack",
    "start_release",
]

if TYPE_CHECKING:
    from ferryman.approvals.policy import GateDecision
    from ferryman.build.artifacts import ArtifactStore
    from ferryman.devstack.stack import serve_regions_on_dev_stack
    from ferryman.errors import (
        BuildError,
        FerrymanError,
        PlanError,
        ProviderError,
        ReleaseError,
        SpecError,
        SpecIssue,
    )
    from ferryman.plan.compile import compile_plan
    from ferryman.plan.models import ReleasePlan
    from ferryman.providers.base import Provider
    from ferryman.providers.local import LocalProvider
    from ferryman.spec.load import load_spec
    from ferryman.spec.models import Spec
    from ferryman.temporal.client.connection import Connection, connect
    from ferryman.temporal.client.gates import GateRefused, pending_gates
    from ferryman.temporal.client.library import (
        decide_gate,
        follow_release,
        plan_release,
        start_release,
    )
    from ferryman.temporal.client.releases import release_progress
    from ferryman.temporal.models.custom import CustomStepInput, CustomStepResult, WebhookResult
    from ferryman.temporal.models.region import Decision
    from ferryman.temporal.models.release import (
        ReleaseContinuation,
        ReleaseProgress,
        ReleaseResult,
    )
    from ferryman.temporal.workflows.release import ReleaseWorkflow


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ferryman' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
