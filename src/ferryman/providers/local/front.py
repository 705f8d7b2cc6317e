"""The front of a zonal region: spreads clients across the zone routers by user hash.

A zonal region (:mod:`ferryman.providers.local.zonal`) has one router per
zone, each serving only its zone's instances. Its region's own router process
then runs as the *front*, the stand-in for DNS or a global load balancer: it
sends each request whole to one zone router, chosen by rendezvous hashing of
the user id (``X-User-Id``, else cookie ``ferryman_user``; requests without
one rotate over the zones), so a user keeps to one zone and every zone takes
its share. A zone router that refuses connections is skipped (its users go
to their next zone) until it accepts again.

The front routes no versions and keeps no tables: answers pass through as the
zone router sent them, generation and version headers included. Its
``/_ferryman/stats`` and ``/metrics`` gather the zone routers', so metric
sources that read a region's router read the whole region.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Mapping
from typing import Any

from ferryman.platform.fronts import USER_COOKIE, zone_order
from ferryman.providers.local import http1
from ferryman.providers.local.upstream import Connection, Pool, Refused

_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
_DOWN_S = 1.0  # a zone router that refused a connection is skipped this long
_PAGE_TIMEOUT = 2.0


class Front:
    """Forwards whole requests to zone routers.

    Args:
        zones: Zone → port of its router, in the region's zone order.
    """

    def __init__(self, zones: Mapping[str, int]) -> None:
        self.zones: dict[str, int] = dict(zones)
        self._pool = Pool()
        self._down: dict[str, float] = {}
        self._turn = itertools.count()

    def update(self, zones: Mapping[str, int]) -> None:
        """New zone routers (a zone added, a router restarted on another port)."""
        self.zones = dict(zones)

    def close(self) -> None:
        """Drop pooled connections."""
        self._pool.close()

    def order(self, user: str | None) -> list[str]:
        """Zones to try for a request, first choice first; zones seen down go last."""
        zones = list(self.zones)
        if user:
            ordered = list(zone_order(user, zones))
        else:
            start = next(self._turn) % len(zones) if zones else 0
            ordered = zones[start:] + zones[:start]
        now = time.monotonic()
        return [z for z in ordered if self._down.get(z, 0) <= now] + [
            z for z in ordered if self._down.get(z, 0) > now
        ]

    async def exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer one request through a zone router; whether the client connection stays open."""
        try:
            raw = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False
        request = http1.parse_request(raw)
        method, target, version_text = request.first
        keep = request.keep_alive(version_text)
        path = target.split("?", 1)[0]
        if method == "GET" and path in ("/metrics", "/_ferryman/stats", "/_ferryman/table"):
            writer.write(await self._own(target, path, keep))
            await writer.drain()
            return keep
        length = request.length()
        body: bytes | None = b""
        if request.chunked():
            body = await http1.read_chunked(reader)
        elif length:
            body = await reader.readexactly(length) if length <= http1.BUFFERED else None
        head = _upstream_head(request, body)
        user = request.header("x-user-id") or http1.parse_cookies(request.header("cookie")).get(
            USER_COOKIE
        )
        for zone in self.order(user):
            port = self.zones[zone]
            try:
                connection = await self._pool.get(port)
            except Refused:
                self._down[zone] = time.monotonic() + _DOWN_S
                continue
            self._down.pop(zone, None)
            try:
                connection.writer.write(head + body if body is not None else head)
                if body is None and length:
                    await http1.relay_exactly(reader, connection.writer, length)
                answer = await connection.reader.readuntil(b"\r\n\r\n")
            except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                connection.close()
                if body is not None and (method in _IDEMPOTENT or connection.reused):
                    continue
                writer.write(_error(502, f"the router of zone {zone} closed the connection"))
                await writer.drain()
                return False
            return await _relay(method, answer, connection, writer, self._pool, keep)
        writer.write(_error(503, "no zone router of the region accepts connections", keep))
        await writer.drain()
        return keep

    async def _own(self, target: str, path: str, keep: bool) -> bytes:
        """The front's own pages: the zone routers' pages gathered."""
        query = target.partition("?")[2]
        pages = await asyncio.gather(
            *(_fetch(port, f"{path}?{query}" if query else path) for port in self.zones.values())
        )
        if path == "/_ferryman/table":
            tables = {
                zone: json.loads(page) if page else None
                for zone, page in zip(self.zones, pages, strict=True)
            }
            payload = {"front": self.zones, "zones": tables}
            return _answer(json.dumps(payload), "application/json", keep)
        if path == "/_ferryman/stats":
            merged: dict[str, Any] = {"series": []}
            for page in pages:
                if page:
                    one = json.loads(page)
                    merged = {**one, "series": merged["series"] + one["series"]}
            return _answer(json.dumps(merged), "application/json", keep)
        text = merge_metrics([page for page in pages if page])
        return _answer(text, "text/plain; charset=utf-8", keep)


def merge_metrics(texts: list[str]) -> str:
    """Prometheus texts of several routers as one, each family's samples kept together."""
    families: dict[str, tuple[list[str], list[str]]] = {}
    current = ""
    for text in texts:
        for line in text.splitlines():
            if line.startswith("# HELP ") or line.startswith("# TYPE "):
                current = line.split(" ", 3)[2]
                headers, _ = families.setdefault(current, ([], []))
                if line not in headers:
                    headers.append(line)
            elif line:
                families.setdefault(current, ([], []))[1].append(line)
    lines = [line for headers, samples in families.values() for line in (*headers, *samples)]
    return "\n".join(lines) + "\n"


def _upstream_head(request: http1.Head, body: bytes | None) -> bytes:
    method, target, version = request.first
    if request.plain and version == "HTTP/1.1":
        return request.raw
    headers = request.forwardable()
    if body is not None and request.chunked():
        headers = [(n, v) for n, v in headers if n.lower() != "content-length"]
        headers.append(("Content-Length", str(len(body))))
    return http1.render(f"{method} {target} HTTP/1.1", headers)


async def _relay(
    method: str,
    raw: bytes,
    connection: Connection,
    writer: asyncio.StreamWriter,
    pool: Pool,
    keep: bool,
) -> bool:
    """Relay a zone router's answer as it is; whether the client connection stays open."""
    relayed = await http1.relay_answer(method, raw, connection.reader, writer, keep)
    if relayed.upstream_keeps:
        pool.put(connection)
    else:
        connection.close()
    return keep and not relayed.until_close


async def _fetch(port: int, target: str) -> str | None:
    """One GET to a zone router's own page, or None if it did not answer."""
    with contextlib.suppress(OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
        async with asyncio.timeout(_PAGE_TIMEOUT):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                writer.write(
                    f"GET {target} HTTP/1.1\r\nHost: front\r\nConnection: close\r\n\r\n".encode()
                )
                data = await reader.read()
            finally:
                writer.close()
        head, _, body = data.partition(b"\r\n\r\n")
        if head.split(b" ", 2)[1] == b"200":
            return body.decode()
    return None


def _answer(text: str, content_type: str, keep: bool) -> bytes:
    data = text.encode()
    headers = [("Content-Type", content_type), ("Content-Length", str(len(data)))]
    if not keep:
        headers.append(("Connection", "close"))
    return http1.render("HTTP/1.1 200 OK", headers) + data


def _error(status: int, message: str, keep: bool = False) -> bytes:
    data = (message + "\n").encode()
    headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(data)))]
    if not keep:
        headers.append(("Connection", "close"))
    reason = {502: "Bad Gateway", 503: "Service Unavailable"}[status]
    return http1.render(f"HTTP/1.1 {status} {reason}", headers) + data
