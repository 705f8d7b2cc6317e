"""The live view of a release: phase, build nodes, the world by wave, every region's zones.

The world table (``render_waves``) has one row per region: its wave, where the
release stands there, the step under way, what it serves and how its traffic
is split (from the platform when ``status`` asked it), and the bake left; a
line under it says what the release waits for (a lock, a person, a bake).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text
from temporalio.client import Client, WorkflowFailureError

from ferryman.cli.outcome import build_line
from ferryman.cli.release_view import PlatformRow, hold_notices
from ferryman.cli.steps_view import render_steps
from ferryman.cli.terminal_view import live_display
from ferryman.temporal.client.lookups import build_nodes
from ferryman.temporal.client.releases import (
    ReleaseHandle,
    Source,
    region_progress,
    release_progress,
)
from ferryman.temporal.models.region import RegionProgress
from ferryman.temporal.models.release import ReleaseProgress, ReleaseResult

STYLES = {
    "succeeded": "green",
    "live": "green",
    "ready": "green",
    "done": "green",
    "running": "yellow",
    "starting": "yellow",
    "health-check": "yellow",
    "build": "yellow",
    "deploy": "yellow",
    "healthy": "green",
    "started": "yellow",
    "rolled-back": "red",
    "failed": "red",
    "unhealthy": "red",
    "skipped": "dim",
    "pending": "dim",
    "cached": "cyan",
    "queued": "dim",
    "switched": "green",
    "deploying": "yellow",
    "finalizing": "yellow",
    "restoring": "yellow",
    "restored": "cyan",
    "paused": "yellow",
    "bake": "yellow",
    "rolling-back": "red",
    "aborted": "red",
}


def _styled(value: str) -> Text:
    return Text(value, style=STYLES.get(value, ""))


def render_regions(regions: list[RegionProgress]) -> Table:
    """One row per region, service and zone: status, versions running, traffic split."""
    table = Table(
        "region",
        "service",
        "zone",
        "status",
        "running",
        "traffic",
        "step",
        box=None,
        padding=(0, 2),
    )
    for region in regions:
        for service in region.services:
            split = ", ".join(f"{v} {w}%" for v, w in service.weights.items())
            for index, zone in enumerate(service.zones):
                table.add_row(
                    region.region if index == 0 else "",
                    service.service if index == 0 else "",
                    zone.zone,
                    _styled(zone.status),
                    ", ".join(zone.versions),
                    split if index == 0 else "",
                    (service.step or service.phase) if index == 0 else "",
                )
    return table


def render_analysis(regions: list[RegionProgress]) -> list[Text]:
    """One line per service under analysis: its step and the latest verdict with its reason."""
    return [
        Text(
            f"  {region.region} {service.service}: "
            + (f"{service.step} — " if service.step else "")
            + service.analysis
        )
        for region in regions
        for service in region.services
        if service.analysis
    ]


def render_waves(
    progress: ReleaseProgress,
    regions: Sequence[RegionProgress] = (),
    platform: Sequence[PlatformRow] = (),
    now: datetime | None = None,
) -> Table:
    """The world as a table: per region its wave, state, what it serves now, traffic, bake.

    What a region serves and its traffic split come from the platform's rows when
    given (what the routers do now), else from the region deploy's own view.
    The wave baking shows how long its bake has left.
    """
    table = Table(
        "wave", "region", "state", "step", "serving", "traffic", "bake", box=None, padding=(0, 2)
    )  # fmt: skip
    views = {view.region: view for view in regions}
    baking = baking_wave(progress)
    left = bake_left(progress, now)
    for number, wave in enumerate(progress.waves, start=1):
        for index, region in enumerate(wave):
            state = progress.regions.get(region, "pending")
            serving, traffic = _served(region, views.get(region), platform)
            table.add_row(
                str(number) if index == 0 else "",
                region,
                _styled(state),
                _step(views.get(region)),
                serving,
                traffic,
                (left if number - 1 == baking else "") if index == 0 else "",
            )
    return table


def baking_wave(progress: ReleaseProgress) -> int | None:
    """The 0-based wave whose bake is running, if any: the last wave that has started."""
    if progress.phase != "bake" or not progress.bake_until:
        return None
    started = [
        index
        for index, wave in enumerate(progress.waves)
        if any(progress.regions.get(r, "pending") != "pending" for r in wave)
    ]
    return started[-1] if started else None


def bake_left(progress: ReleaseProgress, now: datetime | None = None) -> str:
    """How long the running bake has left (``"4m10s left"``), or ``""``."""
    if progress.phase != "bake" or not progress.bake_until:
        return ""
    until = datetime.fromisoformat(progress.bake_until)
    seconds = (until - (now or datetime.now(UTC))).total_seconds()
    return f"{_duration(seconds)} left"


def _duration(seconds: float) -> str:
    total = max(0, math.ceil(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _step(view: RegionProgress | None) -> str:
    if view is None:
        return ""
    several = len(view.services) > 1
    return "; ".join(
        f"{s.service}: {s.step}" if several else s.step for s in view.services if s.step
    )


def _served(
    region: str, view: RegionProgress | None, platform: Sequence[PlatformRow]
) -> tuple[str, str]:
    """What a region serves (versions running) and its traffic split, per service."""
    rows = [row for row in platform if row.region == region and not row.error]
    per: list[tuple[str, list[str], dict[str, int]]] = []
    if rows:
        per = [(row.service, _versions(row.zones.values()), dict(row.weights)) for row in rows]
    elif view is not None:
        per = [
            (s.service, _versions(z.versions for z in s.zones), dict(s.weights))
            for s in view.services
        ]
    several = len(per) > 1
    serving = "; ".join(
        (f"{service} " if several else "") + (", ".join(versions) or "-")
        for service, versions, _ in per
    )
    traffic = "; ".join(
        (f"{service}: " if several else "") + (_split(weights) or "no routes")
        for service, _, weights in per
    )
    return serving or "-", traffic or "-"


def _versions(zones: Iterable[Iterable[str]]) -> list[str]:
    return list(dict.fromkeys(v for versions in zones for v in versions))


def _split(weights: dict[str, int]) -> str:
    return ", ".join(f"{v} {w}%" for v, w in weights.items())


def waiting_line(progress: ReleaseProgress, now: datetime | None = None) -> Text | None:
    """What the release waits for now, in one line (a lock, a person, a bake), or None."""
    if progress.waiting_for:
        return Text.assemble(("waiting for ", "bold yellow"), progress.waiting_for)
    baking = baking_wave(progress)
    if baking is not None:
        left = bake_left(progress, now).removesuffix(" left")
        following = baking + 2 if baking + 1 < len(progress.waves) else None
        then = f"then wave {following}" if following else "then the release commits"
        return Text.assemble(
            ("waiting for ", "bold yellow"), f"wave {baking + 1}'s bake to end (in {left}); {then}"
        )
    return None


def render_progress(
    progress: ReleaseProgress,
    regions: list[RegionProgress] | None = None,
    events: int = 6,
    show_error: bool = True,
    platform: Sequence[PlatformRow] = (),
) -> Group:
    """A compact, printable picture of a release and its regions.

    ``platform`` (what the platform serves now, per region and service) fills
    the world table's serving and traffic columns when given.

    The failure is shown once: as the error line (or not at all with
    ``show_error=False``, when the caller prints it), never also as an event.
    """
    header = Text.assemble(
        ("release ", "bold"),
        progress.release_id,
        "  phase ",
        _styled(progress.phase),
        f"  version {progress.version or '…'}",
    )
    parts: list[Table | Text] = [header]
    if (summary := build_line(progress)) is not None:
        parts.append(summary)
    if progress.nodes:
        nodes = Table("build node", "status", box=None, padding=(0, 2))
        for node, status in progress.nodes.items():
            nodes.add_row(node, _styled(status))
        parts.append(nodes)
    if progress.waves:
        parts.append(render_waves(progress, regions or (), platform))
    waiting = waiting_line(progress)
    if waiting is not None:
        parts.append(waiting)
    if regions:
        parts.append(render_regions(regions))
        parts.extend(render_analysis(regions))
    parts += render_steps(progress)
    failure = f"release failed: {progress.error}"
    shown = [e for e in progress.events if not progress.error or e.message != failure]
    for event in shown[-events:]:
        parts.append(Text(f"  {event.at[11:19]}  {event.message}", style="dim"))
    parts += hold_notices(progress.release_id, regions or [])
    if progress.error and show_error:
        parts.append(Text(f"error: {progress.error}", style="bold red"))
    return Group(*parts)


async def poll(
    client: Client, release_id: str
) -> tuple[ReleaseProgress | None, list[RegionProgress], Source]:
    """The release's progress, that of every region deploy it started, and their source."""
    progress, source = await release_progress(client, release_id)
    if progress is None or source != "worker":
        return progress, [], source
    if progress.phase == "build":
        nodes = await build_nodes(client, release_id)
        if nodes:
            progress = progress.model_copy(update={"nodes": {**progress.nodes, **nodes}})
    started = [region for region, state in progress.regions.items() if state != "pending"]
    return progress, await region_progress(client, release_id, started), source


async def follow(
    client: Client, handle: ReleaseHandle, console: Console
) -> tuple[ReleaseResult | None, str]:
    """Show live progress until the release ends; returns its result or failure reason."""
    result_task = asyncio.ensure_future(handle.result())
    with live_display(console) as live:
        while True:
            done = result_task.done()
            progress, regions, _ = await poll(client, handle.id)
            if progress is not None:
                live.update(render_progress(progress, regions, show_error=False))
            if done:
                break
            await asyncio.wait({result_task}, timeout=0.5)
    try:
        return result_task.result(), ""
    except WorkflowFailureError as exc:
        cause = exc.cause
        return None, str(getattr(cause, "message", None) or cause or exc)
