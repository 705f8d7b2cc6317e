"""How a region deploy's ``SetRoutes`` reaches the platform: one swap, or a two-phase switch.

``RegionDeployWorkflow`` hands every route change (a switch, a traffic step, a
restore) to :func:`switch_routes`, which picks the path by the region's data
plane:

- ``regional``: one ``ferryman.set_traffic`` activity, an atomic swap of the
  region's single router;
- ``zonal``: ``ferryman.stage_traffic`` (phase 1: every zone router holds the
  new table under a new generation, or the platform aborted it everywhere and
  the step fails with nothing changed), then ``ferryman.commit_traffic``
  (phase 2: every zone router serves it). They are two activities, so a
  worker killed between the phases leaves the staged generation in history
  and the next worker commits exactly that generation; the commit is retried
  until every zone serves it. Keys: ``<step key>/stage`` and ``<step key>/commit``.

A switch interrupted after phase 1 (the region is cancelled, the release
rolls back) is superseded by the next one: the platform aborts an undecided
switch before it stages a new one, and finishes a decided one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from ferryman.platform.models import RouteTable
    from ferryman.temporal.activities.deploy import DeployActivities
    from ferryman.temporal.models.region import (
        CommitInput,
        RegionDeployRequest,
        StageInput,
        TrafficInput,
    )

ArgT = TypeVar("ArgT")
ResultT = TypeVar("ResultT")


class ActivityCaller(Protocol):
    """Runs a provider activity on the region's queue with the region's retry policy."""

    def __call__(
        self,
        activity: Callable[[DeployActivities, ArgT], Awaitable[ResultT]],
        arg: ArgT,
        summary: str,
    ) -> Awaitable[ResultT]:
        """Run ``activity(arg)``; ``summary`` is shown in the Web UI."""
        ...


def describe_table(region: str, table: RouteTable) -> str:
    """``route eu-1 web: v1 90%, v2 10% + 1 rule(s)``."""
    weights = ", ".join(f"{v} {w}%" for v, w in table.weights.items())
    rules = f" + {len(table.rules)} rule(s)" if table.rules else ""
    return f"route {region} {table.service}: {weights}{rules}"


async def switch_routes(
    call: ActivityCaller,
    where: dict[str, str],
    request: RegionDeployRequest,
    table: RouteTable,
    key: str,
) -> int:
    """Install ``table`` in the request's region by its data plane; returns the generation.

    Args:
        call: Runs one provider activity.
        where: Platform and environment of the provider.
        request: The region deploy (region, zones, data plane).
        table: The new route table of one service.
        key: The step's idempotency key.
    """
    summary = describe_table(request.region, table)
    if request.data_plane != "zonal":
        data = TrafficInput(**where, key=key, region=request.region, routes=table)
        return await call(DeployActivities.set_traffic, data, summary)
    stage = StageInput(
        **where, key=f"{key}/stage", region=request.region, zones=request.zones, routes=table
    )
    generation = await call(
        DeployActivities.stage_traffic, stage, f"phase 1, stage in every zone: {summary}"
    )
    commit = CommitInput(**where, key=f"{key}/commit", region=request.region, generation=generation)
    return await call(
        DeployActivities.commit_traffic,
        commit,
        f"phase 2, commit generation {generation}: {summary}",
    )
