"""``ferryman release`` and ``ferryman status``: start, follow and inspect releases."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from ferryman.cli.app import app, console, fail
from ferryman.cli.context import (
    AddressOption,
    NamespaceOption,
    client_for,
    run,
    serve_regions_on_dev_stack,
)
from ferryman.cli.live import follow, poll, render_progress
from ferryman.cli.whoami import current_user, directory
from ferryman.plan.compile import compile_plan
from ferryman.spec.load import load_spec
from ferryman.temporal.client.releases import recent_releases, start_release


@app.command()
def release(
    file: Path = typer.Argument(..., help="The ferryman.yaml to release."),
    env: str = typer.Option(..., "--env", "-e", help="Environment to release to."),
    version: str | None = typer.Option(None, "--version", help="Version label to deploy."),
    detach: bool = typer.Option(False, "--detach", "-d", help="Start and return at once."),
    temporal_address: str | None = AddressOption,
    namespace: str | None = NamespaceOption,
) -> None:
    """Build and deploy FILE to an environment, following progress live (exit 1 if rejected)."""
    config = directory()
    user = current_user(required=False) or ""
    plan = compile_plan(
        load_spec(file, config), file, env, version, directory=config, requested_by=user
    )

    async def go() -> int:
        client = await client_for(temporal_address, namespace)
        serve_regions_on_dev_stack(plan)
        handle = await start_release(client, plan)
        console.print(f"started [bold]{handle.id}[/]")
        if detach:
            return 0
        result, error = await follow(client, handle, console)
        if result is None:
            raise fail(f"{handle.id} failed: {error}")
        if result.status == "rejected":
            raise fail(f"{handle.id} rejected: {result.error}")
        for region, url in result.router_urls.items():
            console.print(f"{region}: {url}  serves version [bold]{result.version}[/]")
        return 0

    raise typer.Exit(run(go()))


@app.command()
def status(
    release_id: str | None = typer.Argument(None, help="A release id; default: list recent ones."),
    temporal_address: str | None = AddressOption,
    namespace: str | None = NamespaceOption,
) -> None:
    """Show one release in detail, or list the recent ones."""

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
            raise fail(f"no release {release_id!r} (see `ferryman status` for recent ones)")
        if source == "server":
            console.print(
                "[yellow]no worker answered; showing what the server recorded last[/]"
                " (start one with `ferryman dev` or `ferryman worker`)"
            )
        if progress is None:
            console.print(f"{release_id} has not recorded any progress yet")
            return
        console.print(render_progress(progress, regions, events=50))

    run(go())
