"""``ferryman build`` and ``ferryman builds``: build a spec's DAG on its own, list past builds."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Column, Table
from temporalio.client import Client

from ferryman import paths
from ferryman.build.affected import changed_repos
from ferryman.build.history import (
    BuildRecord,
    last_artifacts,
    last_durations,
    load_records,
    save_record,
)
from ferryman.build.report import node_failure
from ferryman.cli.app import app, console, err_console, fail
from ferryman.cli.build_view import follow_build
from ferryman.cli.context import AddressOption, NamespaceOption, client_for, run
from ferryman.cli.sync import sync_now
from ferryman.plan.compile import compile_build
from ferryman.plan.models import BuildPlan
from ferryman.plan.select import affected_plan
from ferryman.spec.load import load_spec, spec_file
from ferryman.temporal.models.build import BuildRequest, BuildResult
from ferryman.temporal.names import TASK_QUEUE
from ferryman.temporal.workflows.build import BuildWorkflow


def builds_dir() -> Path:
    """Where finished builds are recorded."""
    return paths.builds_dir()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def build_plan_for(
    file: Path,
    *,
    no_cache: bool,
    changed_since: str | None,
    max_parallel: int | None,
    platform_queues: tuple[str, ...] = (),
) -> tuple[str, BuildPlan]:
    """The system name and the build plan for a spec, with history-derived durations."""
    file = spec_file(file)
    spec = load_spec(file)
    records = load_records(builds_dir(), spec.system)
    plan = compile_build(
        spec, file, platform_queues=platform_queues, durations=last_durations(records)
    )
    if changed_since is not None:
        sources = {node.repo: node.source for node in plan.nodes}
        plan = affected_plan(plan, changed_repos(sources, changed_since), last_artifacts(records))
    update: dict[str, object] = {"use_cache": not no_cache}
    if max_parallel is not None:
        update["max_parallel"] = max_parallel
    return spec.system, plan.model_copy(update=update)


async def build_and_record(
    client: Client, system: str, plan: BuildPlan, spec_path: str, out: Console = console
) -> tuple[str, BuildResult]:
    """Build ``plan`` as ``build/<system>/<stamp>``, following it live; record it in the history.

    Args:
        client: A Temporal client.
        system: The spec's system.
        plan: What to build.
        spec_path: The spec file, absolute (recorded with the build).
        out: Where the live view goes.

    Returns:
        The build's workflow id and its result.
    """
    started = _now()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    build_id = f"build/{system}/{stamp}-{secrets.token_hex(2)}"
    handle = await client.start_workflow(
        BuildWorkflow.run,
        BuildRequest(run_id=build_id, plan=plan),
        id=build_id,
        task_queue=TASK_QUEUE,
        static_summary=f"build {system}: {len(plan.nodes)} node(s)",
    )
    out.print(f"started [bold]{handle.id}[/]")
    result = await follow_build(handle, out)
    record = BuildRecord(
        build_id=build_id,
        system=system,
        spec_path=spec_path,
        started=started,
        finished=_now(),
        result=result.model_dump(mode="json"),
    )
    save_record(builds_dir(), record)
    return build_id, result


@app.command()
def build(
    file: Path = typer.Argument(
        ..., help="The ferryman.yaml whose repos to build (or its directory)."
    ),
    no_cache: bool = typer.Option(False, "--no-cache", help="Run every step; ignore the cache."),
    changed_since: str | None = typer.Option(
        None, "--changed-since", help="Build only repos changed since this git ref, and downstream."
    ),
    max_parallel: int | None = typer.Option(
        None, "--max-parallel", min=1, help="Nodes building at once (default: the spec's)."
    ),
    platform_queue: list[str] = typer.Option(
        [],
        "--platform-queue",
        help="A platform (e.g. linux/arm64) whose legs go to ferryman-build-<os>-<arch>, "
        "served by its own workers; repeatable.",
    ),
    temporal_address: str | None = AddressOption,
    namespace: str | None = NamespaceOption,
) -> None:
    """Build every repo × matrix leg of FILE as a DAG, following progress live."""
    system, plan = build_plan_for(
        file,
        no_cache=no_cache,
        changed_since=changed_since,
        max_parallel=max_parallel,
        platform_queues=tuple(platform_queue),
    )
    if not plan.nodes:
        console.print(f"nothing changed since {changed_since}: no node to build")
        raise typer.Exit(0)

    spec_path = str(spec_file(file).resolve())

    async def go() -> int:
        client = await client_for(temporal_address, namespace)
        build_id, result = await build_and_record(client, system, plan, spec_path)
        built = sum(1 for n in result.nodes.values() if n.status == "succeeded" and not n.cached)
        cached = sum(1 for n in result.nodes.values() if n.cached)
        console.print(f"{built} built, {cached} from cache, {len(result.nodes)} node(s)")
        if not result.succeeded:
            for node in result.nodes.values():
                if node.status != "succeeded":
                    line = node_failure(node.id, node.status, node.error, node.kind)
                    err_console.print(line, markup=False, highlight=False, soft_wrap=True)
            raise fail(f"{build_id} failed (`ferryman logs {build_id}` prints every step's log)")
        return 0

    raise typer.Exit(run(go()))


@app.command()
def builds(
    limit: int = typer.Option(20, "--limit", "-n", help="How many recent builds to show."),
    system: str | None = typer.Option(None, "--system", help="Only builds of this system."),
    temporal_address: str | None = AddressOption,
    namespace: str | None = NamespaceOption,
) -> None:
    """List recent builds, releases' builds included, newest first, with how each node ended."""

    sync_now(temporal_address, namespace)
    records = load_records(builds_dir(), system)
    if not records:
        console.print(f"no build recorded in {builds_dir()}")
        return
    table = Table(
        Column("build", overflow="fold"),
        Column("finished", no_wrap=True),
        *(Column(name, justify="right", no_wrap=True, min_width=len(name)) for name in _COUNTS),
        box=None,
        padding=(0, 1),
    )
    for record in reversed(records[-limit:]):
        nodes = record.nodes.values()
        table.add_row(
            record.build_id,
            record.finished.replace("T", " ").removesuffix("Z"),
            str(sum(1 for n in nodes if n["status"] == "succeeded" and not n.get("cached"))),
            str(sum(1 for n in nodes if n.get("cached"))),
            str(sum(1 for n in nodes if n["status"] != "succeeded")),
        )
    console.print(table)


_COUNTS = ("built", "cached", "failed")
"""Nodes built, reused from the cache, and not succeeded (failed, skipped or cancelled)."""
