"""``ferryman server`` / ``python -m ferryman.server``: serve the HTTP API with uvicorn."""

from __future__ import annotations

import argparse

from ferryman.server.app import create_app
from ferryman.server.context import ServerSettings
from ferryman.temporal.client.connection import Connection

READY_LINE = "ferryman-server ready"
DEFAULT_PORT = 7490


def serve(host: str, port: int, connection: Connection) -> None:
    """Run the server until interrupted."""
    import uvicorn

    app = create_app(ServerSettings(connection=connection))
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
    args = parser.parse_args(argv)
    serve(args.host, args.port, Connection.from_env(args.temporal_address, args.namespace))


if __name__ == "__main__":
    main()
