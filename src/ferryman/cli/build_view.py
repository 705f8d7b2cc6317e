"""The live view of a build: every node running, queued or done, refreshed while it runs."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError

from ferryman.cli.live import STYLES
from ferryman.cli.terminal_view import live_display
from ferryman.temporal.models.build import BuildResult
from ferryman.temporal.workflows.build import BuildWorkflow

BuildHandle = WorkflowHandle[BuildWorkflow, BuildResult]
_STYLES = {**STYLES, "cached": "cyan", "queued": "dim", "cancelled": "red"}


def render_nodes(build_id: str, nodes: dict[str, str], limit: int = 40) -> Group:
    """Counts per status, then the nodes that are not done yet (or all, when few)."""
    counts = Counter(nodes.values())
    summary = "  ".join(
        f"[{_STYLES.get(status, '')}]{status} {count}[/]"
        for status, count in sorted(counts.items())
    )
    table = Table("node", "status", box=None, padding=(0, 2))
    shown = [(n, s) for n, s in nodes.items() if len(nodes) <= limit or s in ("running", "queued")]
    for node, status in shown[:limit]:
        table.add_row(node, Text(status, style=_STYLES.get(status, "")))
    return Group(Text.from_markup(f"[bold]build[/] {build_id}  {summary}"), table)


async def follow_build(handle: BuildHandle, console: Console) -> BuildResult:
    """Show the nodes live until the build ends; returns its result."""
    result_task = asyncio.ensure_future(handle.result())
    with live_display(console) as live:
        while not result_task.done():
            with contextlib.suppress(RPCError):
                live.update(render_nodes(handle.id, await handle.query(BuildWorkflow.nodes)))
            await asyncio.wait({result_task}, timeout=0.5)
        result = result_task.result()
        live.update(
            render_nodes(
                handle.id, {n.id: _final(n.status, n.cached) for n in result.nodes.values()}
            )
        )
    return result


def _final(status: str, cached: bool) -> str:
    return "cached" if cached else status
