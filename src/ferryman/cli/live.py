"""The live view of a release: phase, build nodes, zones and the latest events."""

from __future__ import annotations

import asyncio

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text
from temporalio.client import WorkflowFailureError
from temporalio.service import RPCError

from ferryman.temporal.models import ReleaseProgress, ReleaseResult
from ferryman.temporal.starter import ReleaseHandle
from ferryman.temporal.workflows.release import ReleaseWorkflow

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
    "failed": "red",
    "unhealthy": "red",
    "skipped": "dim",
    "pending": "dim",
}


def _styled(value: str) -> Text:
    return Text(value, style=STYLES.get(value, ""))


def render_progress(progress: ReleaseProgress, events: int = 6) -> Group:
    """A compact, printable picture of a release."""
    header = Text.assemble(
        ("release ", "bold"),
        progress.release_id,
        "  phase ",
        _styled(progress.phase),
        f"  version {progress.version or '…'}",
    )
    parts: list[Table | Text] = [header]
    if progress.nodes:
        nodes = Table("build node", "status", box=None, padding=(0, 2))
        for node, status in progress.nodes.items():
            nodes.add_row(node, _styled(status))
        parts.append(nodes)
    if progress.zones:
        zones = Table("region", "zone", "service", "status", "version", box=None, padding=(0, 2))
        for zone in progress.zones:
            zones.add_row(zone.region, zone.zone, zone.service, _styled(zone.status), zone.version)
        parts.append(zones)
    for event in progress.events[-events:]:
        parts.append(Text(f"  {event.at[11:19]}  {event.message}", style="dim"))
    if progress.error:
        parts.append(Text(f"error: {progress.error}", style="bold red"))
    return Group(*parts)


async def _poll(handle: ReleaseHandle) -> ReleaseProgress | None:
    try:
        return await handle.query(ReleaseWorkflow.progress)
    except RPCError:
        return None


async def follow(handle: ReleaseHandle, console: Console) -> tuple[ReleaseResult | None, str]:
    """Show live progress until the release ends; returns its result or failure reason."""
    result_task = asyncio.ensure_future(handle.result())
    progress: ReleaseProgress | None = None
    with Live(console=console, refresh_per_second=4, transient=False) as live:
        while not result_task.done():
            progress = await _poll(handle) or progress
            if progress is not None:
                live.update(render_progress(progress))
            await asyncio.wait({result_task}, timeout=0.5)
        progress = await _poll(handle) or progress
        if progress is not None:
            live.update(render_progress(progress))
    try:
        return result_task.result(), ""
    except WorkflowFailureError as exc:
        cause = exc.cause
        return None, str(getattr(cause, "message", None) or cause or exc)
