"""``ferryman server``: the dashboard and the HTTP API (gates, decisions, Slack interactivity)."""

from __future__ import annotations

import typer

from ferryman.cli.app import app
from ferryman.cli.context import AddressOption, NamespaceOption, connection
from ferryman.server.main import DEFAULT_PORT, serve


@app.command()
def server(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(DEFAULT_PORT, help="Port to listen on."),
    temporal_address: str | None = AddressOption,
    namespace: str | None = NamespaceOption,
    temporal_ui: str | None = typer.Option(
        None,
        envvar="FERRYMAN_TEMPORAL_UI",
        help="Base URL of the Temporal Web UI, for the dashboard's links to raw histories.",
    ),
) -> None:
    """Serve the dashboard (/releases, /gates) and the HTTP API (gates, decisions, Slack)."""
    serve(host, port, connection(temporal_address, namespace), temporal_ui)
