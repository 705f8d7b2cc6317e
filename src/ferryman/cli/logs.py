"""``ferryman logs``: print the captured logs of a release's (or a build's) steps.

Without an argument it shows the newest run. A node that was a cache hit ran no
step in this run: its logs are those of the build that produced the artifact,
shown with a note saying so.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer

from ferryman import paths
from ferryman.build.artifacts import ArtifactStore
from ferryman.build.cache import BuildCache
from ferryman.build.history import BuildRecord, load_records
from ferryman.build.logs import list_logs, read_log, run_dir
from ferryman.cli.app import app, console, fail
from ferryman.cli.context import AddressOption, NamespaceOption
from ferryman.cli.sync import sync_now


def _moment(stamp: str) -> datetime:
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def newest_run(root: Path, records: list[BuildRecord]) -> str | None:
    """The run (release or build id) that finished or logged last."""
    runs = {record.run_id: _moment(record.finished) for record in records}
    by_dir = {_dir_name(run): run for run in runs}
    if root.is_dir():
        for run_dir in (p for p in root.iterdir() if p.is_dir()):
            touched = [f.stat().st_mtime for f in run_dir.glob("*/*.log")]
            if not touched:
                continue
            moment = datetime.fromtimestamp(max(touched), UTC)
            run_id = by_dir.get(run_dir.name, run_dir.name)
            runs[run_id] = max(moment, runs.get(run_id, moment))
    return max(runs, key=lambda run: runs[run]) if runs else None


def _dir_name(run_id: str) -> str:
    return run_dir(Path("/"), run_id).name


def _producer_run(invocation: str, records: list[BuildRecord]) -> str:
    """The run whose logs hold the steps of a build invocation (``<workflow id>/<run id>``)."""
    workflow_id = invocation.rsplit("/", 1)[0]
    for record in records:
        if record.build_id == workflow_id:
            return record.run_id
    if workflow_id.startswith("release/"):
        return workflow_id.removesuffix("/build")
    return workflow_id


def _cached_logs(run_id: str, records: list[BuildRecord]) -> list[tuple[Path, str]]:
    """For each node of ``run_id`` that was a cache hit: its producer's logs, and a note."""
    record = next((r for r in reversed(records) if r.run_id == run_id), None)
    if record is None:
        return []
    cache = BuildCache(ArtifactStore(paths.artifacts_dir()))
    found: list[tuple[Path, str]] = []
    for node_id, node in record.nodes.items():
        if not node.get("cached"):
            continue
        entry = cache.peek(str(node.get("cache_key", "")))
        if entry is None:
            continue
        producer = _producer_run(entry.invocation, records)
        note = f"cache hit: built by {producer}"
        files = [f for f in list_logs(paths.logs_dir(), producer) if f.parent.name == node_id]
        found += [(file, note) for file in files]
    return found


@app.command()
def logs(
    release_id: str | None = typer.Argument(None, help="Release or build id; default: the newest."),
    node: str | None = typer.Option(None, "--node", help="Only this build node."),
    step: str | None = typer.Option(None, "--step", help="Only steps whose name contains this."),
    temporal_address: str | None = AddressOption,
    namespace: str | None = NamespaceOption,
) -> None:
    """Print build-step logs of a release (cache hits: the logs of the build that made them)."""

    sync_now(temporal_address, namespace)
    root = paths.logs_dir()
    records = load_records(paths.builds_dir())
    if release_id is None:
        release_id = newest_run(root, records)
        if release_id is None:
            raise fail(f"no build logs under {root} (state home {paths.describe_home()})")
    files = [(file, "") for file in list_logs(root, release_id)]
    files += _cached_logs(release_id, records)
    shown = [
        (file, note)
        for file, note in files
        if (node is None or file.parent.name == node) and (step is None or step in file.name)
    ]
    if not shown:
        raise fail(_nothing(release_id, records, bool(files)))
    console.print(f"logs of [bold]{release_id}[/]", highlight=False)
    for file, note in sorted(shown, key=lambda item: (item[0].parent.name, item[0].name)):
        title = f"{file.parent.name} / {file.stem}" + (f"  ({note})" if note else "")
        console.rule(title)
        console.print(read_log(file), markup=False, highlight=False, end="")


def _nothing(release_id: str, records: list[BuildRecord], had_any: bool) -> str:
    if had_any:
        return f"no log of {release_id} matches --node/--step"
    if not any(record.run_id == release_id for record in records):
        return (
            f"no build logs of {release_id!r} under {paths.logs_dir()} and no build of it "
            "recorded (see `ferryman builds`)"
        )
    return f"{release_id} ran no build step and its cached artifacts' logs are gone"
