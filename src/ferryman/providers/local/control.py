"""The control channel from the agent to a router process: JSON lines on a unix socket.

Each router listens on an abstract unix socket (Linux; no file to clean up,
no path-length limit) named after the agent's state dir and its
(environment, region). A call is one JSON object on one line; the answer is
one JSON object on one line, ``{"ok": true, …}`` or ``{"ok": false, "error": "…"}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ferryman.providers.local.traffic import TrafficError, Where

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
_LIMIT = 64 * 1024 * 1024


async def _connect(name: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    # uvloop cannot connect to an abstract address by path; a connected socket it takes.
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await asyncio.get_running_loop().sock_connect(sock, name)
    except BaseException:
        sock.close()
        raise
    return await asyncio.open_unix_connection(sock=sock, limit=_LIMIT)


def identity(state_dir: Path, where: Where) -> str:
    """A router's identity: unique per agent state dir and (environment, region)."""
    environment, region = where
    digest = hashlib.sha256(f"{state_dir.resolve()}\0{environment}\0{region}".encode())
    return f"{environment}/{region}@{digest.hexdigest()[:16]}"


def socket_name(ident: str) -> str:
    """The abstract socket address of a router's control channel."""
    return "\0ferryman-router-" + hashlib.sha256(ident.encode()).hexdigest()[:24]


async def serve(name: str, handler: Handler) -> asyncio.Server:
    """Answer calls on ``name`` with ``handler`` (its exceptions become ``ok: false``)."""

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                try:
                    answer = {"ok": True, **await handler(json.loads(line))}
                except Exception as error:
                    answer = {"ok": False, "error": f"{type(error).__name__}: {error}"}
                writer.write(json.dumps(answer).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            writer.close()

    return await asyncio.start_unix_server(connection, path=name, limit=_LIMIT)


async def call(name: str, message: dict[str, Any], seconds: float = 5.0) -> dict[str, Any]:
    """Send one call and return the answer.

    Raises:
        TrafficError: Nothing listens, the router answered ``ok: false``, or it took too long.
    """
    try:
        async with asyncio.timeout(seconds):
            reader, writer = await _connect(name)
            try:
                writer.write(json.dumps(message).encode() + b"\n")
                line = await reader.readline()
            finally:
                writer.close()
                with contextlib.suppress(ConnectionError):
                    await writer.wait_closed()
    except (OSError, TimeoutError) as error:
        raise TrafficError(f"router control channel: {error or type(error).__name__}") from None
    if not line:
        raise TrafficError("router control channel closed without an answer")
    answer: dict[str, Any] = json.loads(line)
    if not answer.get("ok"):
        raise TrafficError(str(answer.get("error", "router refused")))
    return answer
