"""``ferryman release`` and ``ferryman status``: start, follow and inspect releases."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table
from temporalio.client import Client

from ferryman import paths
from ferryman.cli.app import app, console, err_console, fail
from ferryman.cli.context import AddressOption, NamespaceOption, client_for, run
from ferryman.cli.live import follow, poll, render_progress
from ferryman.cli.outcome import EXIT_HELP, EXIT_NOT_FOUND, exit_code
from ferryman.cli.release_view import (
    PlatformRow,
    agent_url,
    differences,
    instance_log_hints,
    platform_rows,
    platform_table,
    recorded_weights,
    region_services,
    served_lines,
)
from ferryman.cli.whoami import current_user, directory
from ferryman.devstack import serve_regions_on_dev_stack
from ferryman.plan.compile import compile_plan
from ferryman.spec.load import load_spec, spec_file
from ferryman.temporal.client.lookups import release_plan, release_result
from ferryman.temporal.client.releases import recent_releases, start_release
from ferryman.temporal.client.views import describe
from ferryman.temporal.models.region import RegionProgress
from ferryman.temporal.workflows.release import ReleaseWorkflow


@app.command(epilog=EXIT_HELP)
def release(
    file: Path = typer.Argument(
        ..., help="The ferryman.yaml to release (or a directory holding one)."
    ),
    env: str = typer.Option(..., "--env", "-e", help="Environment to release to."),
    version: str | None = typer.Option(None, "--version", help="Version label to deploy."),
    detach: bool = typer.Option(False, "--detach", "-d", help="Start and return at once."),
    no_queue: bool = typer.Option(
        False,
        "--no-queue",
        help="Fail at once if another release of the system to ENV runs, instead of waiting.",
    ),
    temporal_address: str | None = AddressOption,
    namespace: str | None = NamespaceOption,
) -> None:
    """Build and deploy FILE to an environment, following progress live (see the exit codes)."""
    file = spec_file(file)
    config = directory()
    user = current_user(required=False) or ""
    plan = compile_plan(
        load_spec(file, config), file, env, version, directory=config, requested_by=user
    )
    if no_queue:
        plan = plan.model_copy(update={"queue": False})

    async def go() -> int:
        client = await client_for(temporal_address, namespace)
        serve_regions_on_dev_stack(plan)
        handle = await start_release(client, plan)
        console.print(f"started [bold]{handle.id}[/]")
        if detach:
            return 0
        result, error = await follow(client, handle, console)
        if result is None:
            failed = fail(f"{handle.id} failed: {error}")
            for hint in instance_log_hints(error, paths.agent_dir() / "logs"):
                err_console.print(hint, markup=False, highlight=False, soft_wrap=True)
            raise failed
        if result.status not in ("succeeded", "unchanged"):
            raise fail(f"{handle.id} {result.status}: {result.error}", exit_code(result))
        services = await region_services(agent_url(), plan.environment)
        for line in served_lines(result, services):
            console.print(line, markup=False, highlight=False, soft_wrap=True)
        return 0

    raise typer.Exit(run(go()))


@app.command(epilog=EXIT_HELP + " Without --watch: 0 shown, 4 no such release.")
def status(
    release_id: str | None = typer.Argument(None, help="A release id; default: list recent ones."),
    watch: bool = typer.Option(
        False,
        "--watch",
        "-w",
        help="Follow the release live until it ends; exit with its outcome (codes below).",
    ),
    agent: str | None = typer.Option(
        None,
        "--agent-url",
        envvar="FERRYMAN_AGENT_URL",
        help="The local agent to ask what is served now (default: the dev stack's).",
    ),
    temporal_address: str | None = AddressOption,
    namespace: str | None = NamespaceOption,
) -> None:
    """Show one release in detail (beside what the platform serves now), or list recent ones."""

    if watch:
        if release_id is None:
            raise fail("--watch needs a release id (see `ferryman status` for recent ones)", 2)
        raise typer.Exit(run(watch_release(release_id, temporal_address, namespace)))

    async def go() -> None:
        client = await client_for(temporal_address, namespace)
        if release_id is None:
            table = Table("release", "status", "phase", "version")
            for row in await recent_releases(client):
                table.add_row(*row)
            console.print(table)
            return
        progress, regions, source = await poll(client, release_id)
        if progress is None and source == "none":
            raise fail(
                f"no release {release_id!r} (see `ferryman status` for recent ones)",
                EXIT_NOT_FOUND,
            )
        if source == "server":
            console.print(
                "[yellow]no worker answered; showing what the server recorded last[/]"
                " (start one with `ferryman dev` or `ferryman worker`)"
            )
        if progress is None:
            console.print(f"{release_id} has not recorded any progress yet")
            return
        rows = await platform_now(client, release_id, regions, agent_url(agent))
        console.print(render_progress(progress, regions, events=50, platform=rows or ()))
        show_platform(rows)

    run(go())


async def watch_release(release_id: str, address: str | None, namespace: str | None) -> int:
    """Follow a running (or finished) release live; returns its exit code."""
    client = await client_for(address, namespace)
    if await describe(client, release_id) is None:
        raise fail(f"no release {release_id!r} (see `ferryman status`)", EXIT_NOT_FOUND)
    handle = client.get_workflow_handle_for(ReleaseWorkflow.run, release_id)
    result, error = await follow(client, handle, console)
    code = exit_code(result)
    if result is None:
        err_console.print(f"[bold red]error:[/] {release_id} failed: {error}", highlight=False)
    elif code:
        err_console.print(
            f"[bold red]error:[/] {release_id} {result.status}: {result.error}", highlight=False
        )
    else:
        console.print(f"[green]{release_id} {result.status}[/]")
    return code


async def platform_now(
    client: Client, release_id: str, regions: list[RegionProgress], url: str | None
) -> list[PlatformRow] | None:
    """What the platform serves now for the release's regions and services, beside its record.

    None when the platform is not the local one; ``[]`` when no agent is known.
    """
    plan = await release_plan(client, release_id)
    if plan is None or plan.deploy.platform != "local":
        return None
    if url is None:
        return []
    recorded = recorded_weights(await release_result(client, release_id), regions)
    places = [(r.name, s.name) for r in plan.deploy.regions for s in plan.deploy.services]
    return await platform_rows(url, plan.environment, places, recorded)


def show_platform(rows: list[PlatformRow] | None) -> None:
    """Print the platform's rows and their differences from the record (or why there are none)."""
    if rows is None:
        return
    if not rows:
        console.print(
            "[dim]what the platform serves now is unknown: no dev stack is running here; "
            "pass --agent-url[/]"
        )
        return
    console.print(platform_table(rows))
    for line in differences(rows):
        console.print(f"[bold red]≠[/] {line}", highlight=False)
