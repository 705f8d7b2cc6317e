"""Read-only lookups in Temporal for the CLI: a release's plan and result, builds that ended.

Everything here reads what the server recorded (workflow inputs, results,
visibility), so it answers with no worker running and from any directory.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from ferryman.plan.models import ReleasePlan
from ferryman.temporal.client.releases import QUERY_TIMEOUT
from ferryman.temporal.models.build import BuildResult
from ferryman.temporal.models.release import ReleaseResult
from ferryman.temporal.names import ENV, SYSTEM, build_id
from ferryman.temporal.workflows.build import BuildWorkflow

T = TypeVar("T")


async def workflow_input(client: Client, workflow_id: str, kind: type[T]) -> T | None:
    """The first argument a workflow was started with, or None if there is no such workflow."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        async for event in handle.fetch_history_events(page_size=1):
            attributes = event.workflow_execution_started_event_attributes
            payloads = list(attributes.input.payloads)
            if not payloads:
                return None
            decoded: list[Any] = await client.data_converter.decode(payloads[:1], [kind])
            return decoded[0] if isinstance(decoded[0], kind) else None
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    return None


async def release_plan(client: Client, release_id: str) -> ReleasePlan | None:
    """The plan a release was started with."""
    return await workflow_input(client, release_id, ReleasePlan)


async def release_result(client: Client, release_id: str) -> ReleaseResult | None:
    """The result of a release that completed; None while it runs, or if it failed."""
    handle = client.get_workflow_handle(release_id, result_type=ReleaseResult)
    try:
        description = await handle.describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    if description.status != WorkflowExecutionStatus.COMPLETED:
        return None
    result = await handle.result()
    return result if isinstance(result, ReleaseResult) else None


async def build_nodes(client: Client, release_id: str) -> dict[str, str] | None:
    """The live node statuses of a release's build child (``cached`` included), if it answers."""
    handle = client.get_workflow_handle_for(BuildWorkflow.run, build_id(release_id))
    try:
        return await handle.query(BuildWorkflow.nodes, rpc_timeout=QUERY_TIMEOUT)
    except (RPCError, WorkflowQueryFailedError):
        return None


async def latest_release(
    client: Client, environment: str | None = None, system: str | None = None
) -> str | None:
    """The id of the newest release (of one environment or system), if any."""
    clauses = ["WorkflowType = 'ferryman.Release'"]
    if environment:
        clauses.append(f"{ENV.name} = '{environment}'")
    if system:
        clauses.append(f"{SYSTEM.name} = '{system}'")
    async for execution in client.list_workflows(" AND ".join(clauses), limit=1):
        return execution.id
    return None


@dataclass(frozen=True)
class FinishedBuild:
    """A build workflow that ended, with what it built.

    Attributes:
        workflow_id: ``build/<system>/…`` or ``release/<system>/<env>/<seq>/build``.
        system: The system built.
        spec_path: The spec it was built from, when known.
        started: When it started (RFC 3339).
        finished: When it ended (RFC 3339).
        result: How every node ended.
    """

    workflow_id: str
    system: str
    spec_path: str
    started: str
    finished: str
    result: BuildResult


def _stamp(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


async def finished_builds(
    client: Client, known: Collection[str], limit: int = 50
) -> list[FinishedBuild]:
    """The newest builds that completed and are not in ``known`` (workflow ids), newest first."""
    found: list[FinishedBuild] = []
    query = "WorkflowType = 'ferryman.Build' AND ExecutionStatus = 'Completed'"
    async for execution in client.list_workflows(query, limit=limit):
        if execution.id in known:
            continue
        handle = client.get_workflow_handle(execution.id, result_type=BuildResult)
        result = await handle.result()
        if not isinstance(result, BuildResult):
            continue
        parts = execution.id.split("/")
        system = parts[1] if len(parts) > 1 else ""
        spec_path = ""
        if execution.id.startswith("release/") and execution.id.endswith("/build"):
            plan = await release_plan(client, execution.id.removesuffix("/build"))
            spec_path = plan.spec_path if plan else ""
        found.append(
            FinishedBuild(
                workflow_id=execution.id,
                system=system,
                spec_path=spec_path,
                started=_stamp(execution.start_time),
                finished=_stamp(execution.close_time),
                result=result,
            )
        )
    return found
