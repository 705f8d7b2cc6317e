"""Start, find and follow releases from a client."""

from __future__ import annotations

from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from ferryman.plan.models import ReleasePlan
from ferryman.temporal.models import ReleaseResult
from ferryman.temporal.names import ENV, PHASE, SYSTEM, TASK_QUEUE, VERSION, release_id
from ferryman.temporal.workflows.release import ReleaseWorkflow

ReleaseHandle = WorkflowHandle[ReleaseWorkflow, ReleaseResult]


def _query(system: str | None, environment: str | None) -> str:
    clauses = ["WorkflowType = 'ferryman.Release'"]
    if system:
        clauses.append(f"{SYSTEM.name} = '{system}'")
    if environment:
        clauses.append(f"{ENV.name} = '{environment}'")
    return " AND ".join(clauses)


async def start_release(
    client: Client, plan: ReleasePlan, task_queue: str = TASK_QUEUE
) -> ReleaseHandle:
    """Start a release with the next free id ``release/<system>/<env>/<seq>``."""
    count = await client.count_workflows(_query(plan.system, plan.environment))
    seq = count.count + 1
    attributes = TypedSearchAttributes(
        [
            SearchAttributePair(SYSTEM, plan.system),
            SearchAttributePair(ENV, plan.environment),
            SearchAttributePair(PHASE, "pending"),
            SearchAttributePair(VERSION, plan.version or "pending"),
        ]
    )
    while True:
        try:
            return await client.start_workflow(
                ReleaseWorkflow.run,
                plan,
                id=release_id(plan.system, plan.environment, seq),
                task_queue=task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=attributes,
                static_summary=f"release {plan.system} to {plan.environment}",
            )
        except WorkflowAlreadyStartedError:
            seq += 1


async def recent_releases(
    client: Client, system: str | None = None, environment: str | None = None, limit: int = 20
) -> list[tuple[str, str, str, str]]:
    """Newest releases first, as (id, status, phase, version)."""
    rows: list[tuple[str, str, str, str]] = []
    async for execution in client.list_workflows(_query(system, environment), limit=limit):
        attrs = execution.typed_search_attributes
        status = execution.status.name.lower() if execution.status else "unknown"
        rows.append((execution.id, status, attrs.get(PHASE) or "", attrs.get(VERSION) or ""))
    return rows
