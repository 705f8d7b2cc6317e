"""``ferryman logs``: print the captured logs of a release's build steps."""

from __future__ import annotations

import typer

from ferryman import paths
from ferryman.build.logs import list_logs, read_log
from ferryman.cli.app import app, console, fail


@app.command()
def logs(
    release_id: str | None = typer.Argument(None, help="Release id; default: the latest."),
    node: str | None = typer.Option(None, "--node", help="Only this build node."),
    step: str | None = typer.Option(None, "--step", help="Only steps whose name contains this."),
) -> None:
    """Print build-step logs of a release."""
    root = paths.logs_dir()
    if release_id is None:
        runs = (
            sorted((p for p in root.glob("*") if p.is_dir()), key=lambda p: p.stat().st_mtime)
            if root.exists()
            else []
        )
        if not runs:
            raise fail(f"no build logs under {root}")
        files = sorted(runs[-1].rglob("*.log"))
    else:
        files = list_logs(root, release_id)
    files = [
        f
        for f in files
        if (node is None or f.parent.name == node) and (step is None or step in f.name)
    ]
    if not files:
        raise fail("no logs match")
    for file in files:
        console.rule(f"{file.parent.name} / {file.stem}")
        console.print(read_log(file), markup=False, highlight=False, end="")
