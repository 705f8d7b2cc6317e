"""Start, find and follow releases from a client."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Literal

from temporalio.client import Client, WorkflowHandle, WorkflowQueryFailedError
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from ferryman.plan.models import ReleasePlan
from ferryman.temporal.models.region import Decision, RegionProgress
from ferryman.temporal.models.release import PromotionNote, ReleaseProgress, ReleaseResult
from ferryman.temporal.names import (
    ENV,
    PHASE,
    SYSTEM,
    TASK_QUEUE,
    VERSION,
    region_deploy_id,
    release_id,
)
from ferryman.temporal.workflows.region import RegionDeployWorkflow
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


Source = Literal["worker", "server", "none"]
"""Where a release's progress came from: a worker's answer to the query, the
progress the workflow last recorded on the server (no worker answered), or nowhere."""
QUERY_TIMEOUT = timedelta(seconds=3)


async def release_progress(
    client: Client, release: str, wait: timedelta = QUERY_TIMEOUT
) -> tuple[ReleaseProgress | None, Source]:
    """A release's progress: asked of a worker, else as last recorded on the server.

    Returns:
        The progress (None when no such release exists) and where it came from.
    """
    handle = client.get_workflow_handle_for(ReleaseWorkflow.run, release)
    try:
        description = await handle.describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None, "none"
        raise
    try:
        return await handle.query(ReleaseWorkflow.progress, rpc_timeout=wait), "worker"
    except (RPCError, WorkflowQueryFailedError):
        memo = await description.memo()
        recorded = memo.get("progress")
        if recorded is None:
            return None, "server"
        return ReleaseProgress.model_validate(recorded), "server"


async def region_progress(
    client: Client, release: str, regions: list[str], wait: timedelta = QUERY_TIMEOUT
) -> list[RegionProgress]:
    """The progress of each region deploy that answers (switch, finalize or restore).

    For each region the latest action that exists is asked: a restore outranks a
    finalize, which outranks the switch.
    """
    answers = []
    for region in regions:
        for action in ("restore", "finalize", "switch"):
            handle = client.get_workflow_handle_for(
                RegionDeployWorkflow.run, region_deploy_id(release, region, action)
            )
            try:
                answers.append(await handle.query(RegionDeployWorkflow.progress, rpc_timeout=wait))
                break
            except (RPCError, WorkflowQueryFailedError):
                continue
    return answers


async def note_promotion(client: Client, release: str, region: str, decision: Decision) -> None:
    """Log an accepted promotion in the release's events ("eu-west promoted by alice: …")."""
    handle = client.get_workflow_handle_for(ReleaseWorkflow.run, release)
    note = PromotionNote(region=region, by=decision.by, reason=decision.reason)
    # If the release ended meanwhile, the region workflow's history keeps the decision.
    with contextlib.suppress(RPCError):
        await handle.signal(ReleaseWorkflow.promoted, note)
