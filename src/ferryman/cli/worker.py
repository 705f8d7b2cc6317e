"""``ferryman worker`` and ``ferryman agent``: the long-running processes, one by one.

``ferryman dev`` starts both (and Temporal) on one laptop. On a real cluster an
operator runs a central ``ferryman worker`` anywhere, and ``ferryman worker
--region R`` where region R's platform is reachable.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import typer

from ferryman.cli.app import app, console
from ferryman.cli.context import AddressOption, NamespaceOption
from ferryman.temporal.client.connection import Connection
from ferryman.temporal.names import TASK_QUEUE
from ferryman.temporal.worker.main import DEFAULT_AGENT_URL, WorkerOptions, describe, serve


@app.command()
def worker(
    region: list[str] = typer.Option(
        [], "--region", "-r", help="Serve this region's provider activities (repeatable)."
    ),
    central: bool | None = typer.Option(
        None,
        "--central/--no-central",
        help="Serve workflows and builds (default: only when no --region is given).",
    ),
    agent_url: str = typer.Option(
        DEFAULT_AGENT_URL, envvar="FERRYMAN_AGENT_URL", help="The local platform agent."
    ),
    build_slots: int = typer.Option(2, min=1, help="Build steps run at once."),
    build_platform: list[str] = typer.Option(
        [], "--build-platform", help="Also build this platform's matrix legs (repeatable)."
    ),
    task_queue: str = typer.Option(TASK_QUEUE, help="The central task queue."),
    prometheus_url: str | None = typer.Option(
        None, envvar="FERRYMAN_PROMETHEUS_URL", help="Prometheus, for canary analysis."
    ),
    regions_file: Path | None = typer.Option(
        None, hidden=True, help="Also serve the regions listed in this file (the dev stack's)."
    ),
    temporal_address: str | None = AddressOption,
    namespace: str | None = NamespaceOption,
    tls: bool | None = typer.Option(
        None, "--tls/--no-tls", envvar="FERRYMAN_TEMPORAL_TLS", help="Connect over TLS."
    ),
    tls_cert: str | None = typer.Option(
        None, envvar="FERRYMAN_TEMPORAL_TLS_CERT", help="Client certificate (PEM) for mTLS."
    ),
    tls_key: str | None = typer.Option(
        None, envvar="FERRYMAN_TEMPORAL_TLS_KEY", help="The client certificate's key (PEM)."
    ),
    api_key: str | None = typer.Option(
        None, envvar="FERRYMAN_TEMPORAL_API_KEY", help="API key (Temporal Cloud); implies TLS."
    ),
) -> None:
    """Serve ferryman's task queues on any Temporal cluster until Ctrl-C or SIGTERM."""
    options = WorkerOptions(
        agent_url=agent_url,
        central=central if central is not None else not region,
        regions=tuple(region),
        regions_file=regions_file,
        build_slots=build_slots,
        build_platforms=tuple(build_platform),
        task_queue=task_queue,
        prometheus_url=prometheus_url,
    )
    connection = Connection.from_env(
        temporal_address, namespace, tls=tls, tls_cert=tls_cert, tls_key=tls_key, api_key=api_key
    )
    console.print(f"serving {describe(options)} at {connection.address}", highlight=False)
    asyncio.run(serve(connection, options))


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def agent(ctx: typer.Context) -> None:
    """Run the local platform agent: instances and routers (see ``ferryman agent --help``)."""
    from ferryman.providers.local.agent import main

    sys.exit(main(list(ctx.args)))
