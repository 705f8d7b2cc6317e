"""A built-in router as its own process, started and re-adopted by the agent.

::

    python -m ferryman.providers.local.routerproc --routing FILE --host H --port P \\
        --control NAME

It loads its first routing from ``FILE`` (so it serves the right table from
its first request), listens on ``H:P``, and takes later routings from the
agent over its control channel (:mod:`ferryman.providers.local.control`). It
keeps serving while the agent is away. An instance that refuses a connection
is ejected here at once and reported to the agent (``POST /v1/eject``).

Besides ``apply``, ``agent`` and ``state``, the channel takes ``log`` (the
request log since a timestamp), ``drain`` (wait until no request is in flight
to the given instances, which the agent has withdrawn and is about to stop)
and, for zone routers, the two-phase ops
``stage``, ``commit``, ``abort`` and the test fault ``fault``
(:mod:`ferryman.providers.local.staging`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ferryman.providers.local import control
from ferryman.providers.local.router import Router
from ferryman.providers.local.staging import STAGING_OPS, Staging
from ferryman.providers.local.traffic import Routing

log = logging.getLogger("ferryman.router")


class _Agent:
    """Where ejections are reported; the agent tells its URL after it (re)starts."""

    def __init__(self, router: Router) -> None:
        self.url: str | None = None
        self._router = router

    async def report(self, instance_id: str) -> None:
        if not self.url:
            return
        parts = urlsplit(self.url)
        body = json.dumps(
            {
                "environment": self._router.environment,
                "region": self._router.region,
                "instance": instance_id,
            }
        ).encode()
        head = (
            f"POST /v1/eject HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json"
            f"\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        try:
            async with asyncio.timeout(1.0):
                reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
                writer.write(head + body)
                await reader.read()
                writer.close()
        except (OSError, TimeoutError) as error:
            log.warning("could not report %s to the agent: %s", instance_id, error)


async def run(args: argparse.Namespace, first: dict[str, Any]) -> int:
    """Serve until SIGTERM or SIGINT; returns the exit status."""
    routing = Routing.from_json(first["routing"])
    router = Router(routing.environment, routing.region, args.host, args.port)
    agent = _Agent(router)
    agent.url = first.get("agent_url")
    router._report = agent.report
    router.apply(routing)

    staging = Staging(router)

    async def handle(message: dict[str, Any]) -> dict[str, Any]:
        op = message.get("op")
        answer: dict[str, Any] = {}
        if op == "apply":
            router.apply(Routing.from_json(message["routing"]), bool(message["new_table"]))
        elif op == "agent":
            agent.url = str(message["url"])
        elif op == "drain":
            busy = await router.drain(message["instances"], float(message.get("within", 5.0)))
            answer = {"busy": busy}
        elif op == "log":
            entries = router.log.since(float(message.get("since", 0.0)))
            answer = {"entries": entries, "zone": router.zone}
        elif op in STAGING_OPS:
            answer = await staging.handle(message)
        elif op != "state":
            raise ValueError(f"unknown op {op!r}")
        staged = router.staged
        return {
            "pid": os.getpid(),
            "port": router.port,
            "generation": router.table.generation,
            "staged": None if staged is None else staged.generation,
            **answer,
        }

    try:
        await router.start()
    except OSError as error:
        print(
            f"ferryman-router: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr
        )
        return 1
    server = await control.serve(args.control, handle)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    log.info("router of %s/%s on %s", routing.environment, routing.region, router.url)
    await stop.wait()
    server.close()
    await router.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and serve."""
    parser = argparse.ArgumentParser(prog="python -m ferryman.providers.local.routerproc")
    parser.add_argument("--routing", required=True, help="JSON file with the first routing")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--control", required=True, help="abstract socket of the control channel")
    args = parser.parse_args(argv)
    args.control = "\0" + args.control.lstrip("@")
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s ferryman-router %(levelname)s %(message)s",
    )
    first = json.loads(Path(args.routing).read_text())
    try:
        import uvloop
    except ImportError:
        return asyncio.run(run(args, first))
    with contextlib.suppress(KeyboardInterrupt):
        return uvloop.run(run(args, first))
    return 0


if __name__ == "__main__":
    sys.exit(main())
