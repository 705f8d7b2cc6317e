"""Read helpers for the dashboard: lists of releases, a release's build, its canary judgements.

Like :mod:`.lookups`, everything here only reads: visibility queries on
ferryman's search attributes, workflow results, and queries that a worker
answers (None or empty when none does). Filter values are checked before they
go into a visibility query, so no one can widen the query with quotes.

Example::

    rows = await list_releases(client, ReleaseFilter(environment="prod", phase="deploy"))
    analysis = await region_analysis(client, "release/shop/prod/3", ["eu-west"])
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowQueryFailedError,
)
from temporalio.service import RPCError, RPCStatusCode

from ferryman.errors import ReleaseError
from ferryman.temporal.client.releases import QUERY_TIMEOUT
from ferryman.temporal.models.analysis import AnalysisView
from ferryman.temporal.models.build import BuildResult
from ferryman.temporal.models.region import RegionProgress
from ferryman.temporal.names import ENV, PHASE, SYSTEM, VERSION, build_id, region_deploy_id
from ferryman.temporal.workflows.region import RegionDeployWorkflow

VALUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+/@-]{0,127}$")
"""What a filter value may be: names, versions and phases, never quotes or spaces."""


class BadFilter(ReleaseError):
    """A filter value that cannot go into a visibility query."""


@dataclass(frozen=True)
class ReleaseFilter:
    """Which releases to list; empty fields match everything."""

    system: str = ""
    environment: str = ""
    phase: str = ""
    version: str = ""

    def query(self) -> str:
        """The visibility query.

        Raises:
            BadFilter: A value has characters a name or version never has.
        """
        clauses = ["WorkflowType = 'ferryman.Release'"]
        for key, value, label in (
            (SYSTEM, self.system, "system"),
            (ENV, self.environment, "environment"),
            (PHASE, self.phase, "phase"),
            (VERSION, self.version, "version"),
        ):
            if not value:
                continue
            if not VALUE.match(value):
                raise BadFilter(f"{label}: {value!r} is not a name or version")
            clauses.append(f"{key.name} = '{value}'")
        return " AND ".join(clauses)


@dataclass(frozen=True)
class ReleaseRow:
    """One release in a list."""

    release_id: str
    status: str
    system: str
    environment: str
    phase: str
    version: str
    started: datetime | None
    closed: datetime | None


def status_name(status: WorkflowExecutionStatus | None) -> str:
    """``running``, ``completed``, ``failed``… (``unknown`` when absent)."""
    return status.name.lower().replace("_", "-") if status else "unknown"


async def list_releases(client: Client, where: ReleaseFilter, limit: int = 50) -> list[ReleaseRow]:
    """Newest releases first that match ``where``.

    Raises:
        BadFilter: A filter value is malformed.
    """
    rows: list[ReleaseRow] = []
    async for execution in client.list_workflows(where.query(), limit=limit):
        attrs = execution.typed_search_attributes
        rows.append(
            ReleaseRow(
                release_id=execution.id,
                status=status_name(execution.status),
                system=attrs.get(SYSTEM) or "",
                environment=attrs.get(ENV) or "",
                phase=attrs.get(PHASE) or "",
                version=attrs.get(VERSION) or "",
                started=execution.start_time,
                closed=execution.close_time,
            )
        )
    return rows


async def describe(client: Client, workflow_id: str) -> WorkflowExecutionDescription | None:
    """A workflow's description, or None if there is no such workflow."""
    try:
        return await client.get_workflow_handle(workflow_id).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        raise


async def build_result(client: Client, release_id: str) -> BuildResult | None:
    """How the release's build ended (durations, cache hits, logs), once its build completed."""
    handle = client.get_workflow_handle(build_id(release_id), result_type=BuildResult)
    description = await describe(client, handle.id)
    if description is None or description.status != WorkflowExecutionStatus.COMPLETED:
        return None
    result = await handle.result()
    return result if isinstance(result, BuildResult) else None


async def region_analysis(
    client: Client, release_id: str, regions: list[str]
) -> dict[str, AnalysisView]:
    """Every canary judgement of each region's switch (regions whose worker answers)."""
    views: dict[str, AnalysisView] = {}
    for region in regions:
        handle = client.get_workflow_handle_for(
            RegionDeployWorkflow.run, region_deploy_id(release_id, region)
        )
        try:
            view = await handle.query(RegionDeployWorkflow.analysis, rpc_timeout=QUERY_TIMEOUT)
        except (RPCError, WorkflowQueryFailedError):
            continue
        if view.records:
            views[region] = view
    return views


async def region_actions(client: Client, release_id: str, region: str) -> dict[str, RegionProgress]:
    """The progress of each of a region's deploys that answers, by action.

    The switch carries the traffic split and the versions it left in each
    zone; a finalize or restore says what happened to them afterwards.
    """
    views: dict[str, RegionProgress] = {}
    for action in ("switch", "finalize", "restore"):
        handle = client.get_workflow_handle_for(
            RegionDeployWorkflow.run, region_deploy_id(release_id, region, action)
        )
        try:
            views[action] = await handle.query(
                RegionDeployWorkflow.progress, rpc_timeout=QUERY_TIMEOUT
            )
        except (RPCError, WorkflowQueryFailedError):
            continue
    return views
