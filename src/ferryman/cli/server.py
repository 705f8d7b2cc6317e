"""``ferryman server``: the HTTP API (pending gates, decisions, Slack interactivity)."""

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
) -> None:
    """Serve the HTTP API: pending gates, approve/reject with a bearer token, Slack buttons."""
    serve(host, port, connection(temporal_address, namespace))
