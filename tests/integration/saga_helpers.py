"""A world of three regions for the saga tests: plans, traffic on every router, agent events."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass

from temporalio.client import WorkflowHandle

from ferryman.plan.models import KeepPrevious, RegionPlan, ReleasePlan, WavePlan
from ferryman.providers.local import LocalProvider
from ferryman.temporal.models.release import ReleaseProgress, ReleaseResult
from ferryman.temporal.workflows.release import ReleaseWorkflow
from ferryman.traffic import LoadStats

from .bluegreen_helpers import traffic
from .release_helpers import served, with_service

REGIONS = ("us-east", "eu-west", "ap-south")
ZONES = ("a", "b")
BAD_REGION = REGIONS[-1]


def world(
    plan: ReleasePlan,
    keep_previous: KeepPrevious = "until-done",
    zones: tuple[str, ...] = ZONES,
    bakes: tuple[float, ...] = (0, 0, 0),
) -> ReleasePlan:
    """``plan`` deployed to three regions of ``zones``, one region per wave."""
    regions = tuple(RegionPlan(name=name, zones=zones) for name in REGIONS)
    waves = tuple(WavePlan(regions=(r,), bake_s=s) for r, s in zip(REGIONS, bakes, strict=True))
    deploy = plan.deploy.model_copy(
        update={"regions": regions, "waves": waves, "keep_previous": keep_previous}
    )
    return plan.model_copy(update={"deploy": deploy})


def unhealthy_in(plan: ReleasePlan, region: str, health_s: float = 6) -> ReleasePlan:
    """``plan`` whose service never becomes healthy in ``region`` (fine everywhere else)."""
    service = plan.deploy.services[0]
    command = (
        f'if [ "$FERRYMAN_REGION" = {region} ]; then exec sleep 600; fi; exec {service.command}'
    )
    health = service.health.model_copy(update={"timeout_s": health_s})
    return with_service(plan, command=command, health=health)


@contextlib.asynccontextmanager
async def traffic_everywhere(
    routers: Mapping[str, str], rps: float = 40
) -> AsyncIterator[dict[str, LoadStats]]:
    """Steady sticky-user load through every region's router; yields live stats per region."""
    async with contextlib.AsyncExitStack() as stack:
        seen = {
            region: await stack.enter_async_context(traffic(url, rps=rps))
            for region, url in routers.items()
        }
        yield seen


def failed(stats: LoadStats) -> int:
    """Requests that failed (5xx answers and transport failures)."""
    return sum(v.errors for v in stats.by_version.values()) + stats.failures


def versions_served(routers: Mapping[str, str]) -> dict[str, set[str]]:
    """What each router answers now, asked with real requests."""
    return {
        region: {a["header_version"] for a in served(url, 20)} for region, url in routers.items()
    }


@dataclass(frozen=True)
class RouteSwap:
    """One ``routes.set`` of the agent's event log."""

    seq: int
    region: str


async def route_swaps(provider: LocalProvider, environment: str, since: int) -> list[RouteSwap]:
    """Every ``routes.set`` in ``environment`` after event ``since``, oldest first.

    The agent logs each as ``<environment>/<region> <service> <generation>``.
    """
    swaps = []
    for event in await provider.events("routes.set", since):
        where = event.detail.split()[0]
        env, _, region = where.partition("/")
        if env == environment:
            swaps.append(RouteSwap(event.seq, region))
    return swaps


async def starts_by_version(
    provider: LocalProvider, since: int
) -> dict[tuple[str, str], list[str]]:
    """(region, version) → instances started after event ``since`` in the provider's environment."""
    instances = {i.id: i for i in await provider.instances()}
    started: dict[tuple[str, str], list[str]] = {}
    for event in await provider.events("instance.started", since):
        instance = instances.get(event.instance or "")
        if instance is not None:
            started.setdefault((instance.region, instance.version), []).append(instance.id)
    return started


async def last_seq(provider: LocalProvider) -> int:
    """The sequence number of the agent's latest event."""
    events = await provider.events()
    return events[-1].seq if events else 0


async def wait_progress(
    handle: WorkflowHandle[ReleaseWorkflow, ReleaseResult],
    what: str,
    check: Callable[[ReleaseProgress], bool],
    timeout_s: float = 120,
) -> None:
    """Poll the release's progress until ``check`` holds for it; fails loudly after a deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    last = None
    while loop.time() < deadline:
        with contextlib.suppress(Exception):
            last = await handle.query(ReleaseWorkflow.progress)
            if check(last):
                return
        await asyncio.sleep(0.1)
    where = f"phase {last.phase}, regions {last.regions}" if last else "no progress"
    raise AssertionError(f"release never got to {what} ({where})")
