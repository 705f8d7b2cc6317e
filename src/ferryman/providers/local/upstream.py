"""Keep-alive connections from a router to its instances, pooled per port."""

from __future__ import annotations

import asyncio
import contextlib

from ferryman.providers.local import http1

_CONNECT_TIMEOUT = 2.0
_IDLE_PER_PORT = 64


class Refused(Exception):
    """Nothing accepted the connection (the instance is gone or not listening)."""


class Connection:
    """One open connection to an instance.

    Attributes:
        reused: Whether it already carried a request (so the instance may have
            closed it meanwhile, and a request that failed on it may be replayed).
    """

    def __init__(
        self, port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.port = port
        self.reader = reader
        self.writer = writer
        self.reused = False
        self.expired = False

    def expire(self) -> None:
        """Give up waiting for an answer: close, so the pending read fails."""
        self.expired = True
        self.close()

    def close(self) -> None:
        """Close it for good."""
        with contextlib.suppress(Exception):
            self.writer.close()


class Pool:
    """Idle keep-alive connections by instance port."""

    def __init__(self) -> None:
        self._idle: dict[int, list[Connection]] = {}

    async def get(self, port: int) -> Connection:
        """An idle connection to ``port``, or a new one.

        Raises:
            Refused: A new connection was refused or timed out.
        """
        idle = self._idle.get(port)
        while idle:
            connection = idle.pop()
            if connection.reader.at_eof() or connection.writer.is_closing():
                connection.close()
                continue
            connection.reused = True
            return connection
        try:
            async with asyncio.timeout(_CONNECT_TIMEOUT):
                reader, writer = await asyncio.open_connection(
                    "127.0.0.1", port, limit=http1.MAX_HEAD
                )
        except (OSError, TimeoutError) as error:
            raise Refused(str(error)) from None
        return Connection(port, reader, writer)

    def put(self, connection: Connection) -> None:
        """Give back a connection whose answer was read whole."""
        idle = self._idle.setdefault(connection.port, [])
        if len(idle) < _IDLE_PER_PORT and not connection.writer.is_closing():
            idle.append(connection)
        else:
            connection.close()

    def close(self) -> None:
        """Close every idle connection."""
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()
