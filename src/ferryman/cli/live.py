"""The live view of a release: phase, build nodes, every region's zones, the latest events."""

from __future__ import annotations

import asyncio

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text
from temporalio.client import Client, WorkflowFailureError

from ferryman.cli.outcome import build_line
from ferryman.cli.release_view import hold_notices
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


def render_waves(progress: ReleaseProgress) -> Table:
    """One row per region: its wave and where the release stands there."""
    table = Table("wave", "region", "state", box=None, padding=(0, 2))
    for number, wave in enumerate(progress.waves, start=1):
        for index, region in enumerate(wave):
            state = progress.regions.get(region, "pending")
            table.add_row(str(number) if index == 0 else "", region, _styled(state))
    return table


def render_progress(
    progress: ReleaseProgress,
    regions: list[RegionProgress] | None = None,
    events: int = 6,
    show_error: bool = True,
) -> Group:
    """A compact, printable picture of a release and its regions.

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
        parts.append(render_waves(progress))
    if regions:
        parts.append(render_regions(regions))
        parts.extend(render_analysis(regions))
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
