"""``ferryman server`` / ``python -m ferryman.server``: serve the API and dashboard with uvicorn."""

from __future__ import annotations

import argparse
import os

from ferryman.server.app import create_app
from ferryman.server.context import ServerSettings
from ferryman.temporal.client.connection import Connection

READY_LINE = "ferryman-server ready"
DEFAULT_PORT = 7490


def serve(host: str, port: int, connection: Connection, temporal_ui: str | None = None) -> None:
    """Run the server (API and dashboard) until interrupted."""
    import uvicorn

    ui = temporal_ui or os.environ.get("FERRYMAN_TEMPORAL_UI") or None
    app = create_app(ServerSettings(connection=connection, temporal_ui=ui))
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    print(f"{READY_LINE}: http://{host}:{port}", flush=True)
    server.run()


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point of the server process."""
    parser = argparse.ArgumentParser(prog="ferryman server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--temporal-address", default=None)
    parser.add_argument("--namespace", default=None)
    parser.add_argument("--temporal-ui", default=None, help="Temporal Web UI base URL, for links.")
    args = parser.parse_args(argv)
    connection = Connection.from_env(args.temporal_address, args.namespace)
    serve(args.host, args.port, connection, args.temporal_ui)


if __name__ == "__main__":
    main()
