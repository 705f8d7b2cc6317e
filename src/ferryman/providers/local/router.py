"""A region's router: an HTTP/1.1 reverse proxy splitting each service's traffic between versions.

The router picks the service from the first label of the ``Host`` header (or
the region's only routed service), the version from the service's rules and
weighted split (:class:`ferryman.platform.routes.Chooser`), and the instance
among that version's healthy ones, preferring the zone named by the
``X-Ferryman-Client-Zone`` request header. The route table is an immutable
object replaced whole, so a request sees either the old table or the new one,
never a mix; every answer names the generation that routed it
(``X-Ferryman-Generation``).

The proxy path is raw asyncio streams: request heads are parsed once
(:mod:`ferryman.providers.local.http1`), re-sent to the instance over a
pooled keep-alive connection, and the answer relayed by its framing.

Besides proxying, a router answers ``GET /metrics`` (Prometheus text),
``GET /_ferryman/stats?window=S`` (its counters over the last S seconds, JSON)
and ``GET /_ferryman/table`` (the generation and tables it serves, and the one
it holds staged). It logs every routed request
(:class:`~ferryman.providers.local.requestlog.RequestLog`).

A router of a zonal region is either one of its zone routers (``zone`` set;
it may hold a *staged* table for a two-phase switch, see
:mod:`ferryman.providers.local.staging`) or its front
(:mod:`ferryman.providers.local.front`), depending on the routing it is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ferryman.platform.models import RouteTable
from ferryman.platform.routes import Chooser
from ferryman.providers.local import http1
from ferryman.providers.local.front import Front
from ferryman.providers.local.requestlog import RequestLog
from ferryman.providers.local.stats import RouterStats, gauge_lines
from ferryman.providers.local.traffic import Backend, Routing
from ferryman.providers.local.upstream import Connection, Pool, Refused

log = logging.getLogger("ferryman.router")

CLIENT_ZONE = "X-Ferryman-Client-Zone"
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
_OWN_PATHS = frozenset({"/metrics", "/_ferryman/stats", "/_ferryman/table"})
_REASONS = {400: "Bad Request", 404: "Not Found", 502: "Bad Gateway", 503: "Service Unavailable"}
_REASONS |= {200: "OK", 504: "Gateway Timeout"}
_ANSWER_TIMEOUT = 300.0  # seconds an instance may take to start answering

Reporter = Callable[[str], Awaitable[None]]
"""Tells the agent an instance refused a connection (its id)."""


@dataclass(frozen=True)
class RegionTable:
    """Everything a router routes, at one generation."""

    generation: int = 0
    services: Mapping[str, Chooser] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def build(cls, generation: int, tables: Mapping[str, RouteTable]) -> RegionTable:
        """Compile every service's table into a read-only table of choosers."""
        services = {service: Chooser(table) for service, table in tables.items()}
        return cls(generation=generation, services=MappingProxyType(services))

    def replace(self, generation: int, tables: Mapping[str, RouteTable]) -> RegionTable:
        """A new table; services whose table did not change keep their chooser (and cursor)."""
        services = {
            service: old
            if (old := self.services.get(service)) is not None and old.table == table
            else Chooser(table)
            for service, table in tables.items()
        }
        return RegionTable(generation=generation, services=MappingProxyType(services))


class _Failed(Exception):
    """The request cannot be answered by an instance; answer ``status`` with ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Router:
    """The reverse proxy of one region of one environment.

    Args:
        environment: The environment the region belongs to.
        region: The region it serves.
        host: Interface to listen on.
        port: Port to listen on (0 picks one).
        report: Called when an instance refused a connection (it is ejected here at once).
    """

    def __init__(
        self,
        environment: str,
        region: str,
        host: str,
        port: int,
        report: Reporter | None = None,
    ) -> None:
        self.environment = environment
        self.region = region
        self.host = host
        self.port = port
        self.stats = RouterStats(environment, region)
        self.log = RequestLog()
        self.zone: str | None = None
        self.staged: RegionTable | None = None
        self.front: Front | None = None
        self._report = report
        self._table = RegionTable()
        self._backends: tuple[Backend, ...] = ()
        self._serving: dict[tuple[str, str], list[Backend]] = {}
        self._turns: dict[tuple[str, str, str], itertools.count[int]] = {}
        self._pool = Pool()
        self._inflight: dict[str, int] = {}
        self._finished = asyncio.Event()  # set whenever an instance has nothing in flight
        self._stamps: dict[tuple[str, int], bytes] = {}
        self._server: asyncio.Server | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        """Base URL clients send traffic to."""
        return f"http://{self.host}:{self.port}"

    @property
    def table(self) -> RegionTable:
        """The table in force."""
        return self._table

    def apply(self, routing: Routing, new_table: bool = True) -> None:
        """Route by ``routing``: its instances always, its tables if ``new_table``.

        Both change in one step of the event loop, so a request is routed entirely
        by the old routing or entirely by the new one. A routing with ``front``
        makes the router its region's front; one without, a router again.
        """
        self.zone = routing.zone
        if routing.front:
            if self.front is None:
                self.front = Front(routing.front)
            else:
                self.front.update(routing.front)
        elif self.front is not None:
            self.front.close()
            self.front = None
        if new_table:
            self.activate(self._table.replace(routing.generation, routing.tables))
        self._set_backends(routing.backends)

    def activate(self, table: RegionTable) -> None:
        """Route by ``table`` from the next request on; a staged table it supersedes is dropped."""
        self._table = table
        if self.staged is not None and self.staged.generation <= table.generation:
            self.staged = None

    def _set_backends(self, backends: tuple[Backend, ...]) -> None:
        serving: dict[tuple[str, str], list[Backend]] = {}
        for backend in backends:
            if backend.serving:
                serving.setdefault((backend.service, backend.version), []).append(backend)
        self._backends = backends
        self._serving = serving

    def _done(self, instance_id: str) -> None:
        left = self._inflight[instance_id] - 1
        if left > 0:
            self._inflight[instance_id] = left
        else:
            del self._inflight[instance_id]
            self._finished.set()

    def in_flight(self, instance_ids: Iterable[str]) -> int:
        """Requests forwarded to these instances and not yet answered."""
        return sum(self._inflight.get(i, 0) for i in instance_ids)

    async def drain(self, instance_ids: Iterable[str], within: float) -> int:
        """Wait until no request is in flight to these instances (at most ``within`` s).

        The agent withdraws instances from the router before it stops them; this
        lets requests already forwarded to them finish. Returns how many were
        still in flight when it gave up (0: drained).
        """
        ids = tuple(instance_ids)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                while self.in_flight(ids):
                    self._finished.clear()
                    await self._finished.wait()
        return self.in_flight(ids)

    def eject(self, instance_id: str) -> None:
        """Take an instance out of rotation until the agent says it is healthy again."""
        self._set_backends(
            tuple(
                Backend(b.id, b.service, b.version, b.zone, b.port, "unhealthy", b.up)
                if b.id == instance_id
                else b
                for b in self._backends
            )
        )

    async def start(self) -> None:
        """Listen on the router's port.

        Raises:
            OSError: The port cannot be bound.
        """
        self._server = await asyncio.start_server(
            self._client, self.host, self.port, reuse_address=True, limit=http1.MAX_HEAD
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ticker = asyncio.get_running_loop().create_task(self._tick())

    async def close(self) -> None:
        """Stop listening and drop pooled connections."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        self._pool.close()
        if self.front is not None:
            self.front.close()

    async def _tick(self) -> None:
        while True:
            self.stats.snapshot()
            await asyncio.sleep(1.0)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        address = peer[0] if peer else ""
        try:
            while await self._exchange(reader, writer, address):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except http1.BadMessage as error:
            with contextlib.suppress(ConnectionError):
                writer.write(_plain(400, str(error), self._table.generation, close=True))
        finally:
            writer.close()

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str
    ) -> bool:
        """Answer one request; whether the client connection stays open."""
        if self.front is not None:
            return await self.front.exchange(reader, writer)
        try:
            raw = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False
        received = time.time()
        started = time.perf_counter()
        request = http1.parse_request(raw)
        method, target, version_text = request.first
        keep = request.keep_alive(version_text)
        table = self._table
        length = request.length()
        chunked = request.chunked()
        if method == "GET" and target.split("?", 1)[0] in _OWN_PATHS:
            writer.write(self._own(target, table, keep))
            await writer.drain()
            return keep
        routes = self._pick_service(table, request.header("host") or "")
        if isinstance(routes, str):
            await _drain_body(reader, length, chunked)
            writer.write(_plain(404, routes, table.generation, close=not keep))
            await writer.drain()
            return keep
        service = routes.table.service
        cookies = http1.parse_cookies(request.header("cookie")) if routes.needs_cookies else {}
        headers = http1.AnyCase(request.lookup) if routes.table.rules else request.lookup
        version = routes.choose(headers, cookies)
        mirror = routes.mirror_to()
        body: bytes | None = b""
        if chunked:
            body = await http1.read_chunked(reader)
        elif length:
            body = await reader.readexactly(length) if length <= http1.BUFFERED else None
        if mirror is not None and mirror != version and body is not None:
            self._copy(request, service, mirror, body)
        zone = "none"
        code = 499
        try:
            zone, code, keep = await self._forward(
                request, reader, writer, service, version, table.generation, body, length, peer
            )
        except _Failed as failure:
            code = failure.status
            writer.write(_plain(code, str(failure), table.generation, version, close=not keep))
            await writer.drain()
        finally:
            self.stats.observe(service, version, zone, code, time.perf_counter() - started)
            where = zone if zone != "none" else (self.zone or zone)
            self.log.add(received, service, version, code, table.generation, where)
        return keep

    async def _forward(
        self,
        request: http1.Head,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        service: str,
        version: str,
        generation: int,
        body: bytes | None,
        length: int | None,
        peer: str,
    ) -> tuple[str, int, bool]:
        """Send a request to an instance and relay its answer; (zone, status, keep-alive)."""
        method, _, version_text = request.first
        head = self._upstream_head(request, peer, body)
        tried: set[str] = set()
        zone = request.header("x-ferryman-client-zone")
        busy: str | None = None  # the instance this request is in flight to
        try:
            while True:
                instance = self._pick_instance(service, version, zone, tried)
                if instance is None:
                    raise _Failed(
                        503, f"no healthy instance of {service} {version} in {self.region}"
                    )
                tried.add(instance.id)
                if busy is not None:
                    self._done(busy)
                busy = instance.id
                self._inflight[busy] = self._inflight.get(busy, 0) + 1
                try:
                    connection = await self._pool.get(instance.port)
                except Refused:
                    self.eject(instance.id)
                    if self._report is not None:
                        await self._report(instance.id)
                    if len(tried) < 3:
                        continue
                    raise _Failed(502, f"{instance.id} refused the connection") from None
                timer = asyncio.get_running_loop().call_later(_ANSWER_TIMEOUT, connection.expire)
                try:
                    connection.writer.write(head + body if body is not None else head)
                    if body is None and length:
                        await http1.relay_exactly(reader, connection.writer, length)
                    raw = await connection.reader.readuntil(b"\r\n\r\n")
                except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    connection.close()
                    if connection.expired:
                        raise _Failed(504, f"{instance.id} did not answer in time") from None
                    replayable = body is not None
                    if (
                        len(tried) < 3
                        and (method in _IDEMPOTENT or connection.reused)
                        and replayable
                    ):
                        continue
                    raise _Failed(502, f"{instance.id} closed the connection") from None
                finally:
                    timer.cancel()
                keep = request.keep_alive(version_text)
                code = await self._relay(
                    method, raw, connection, writer, instance, generation, keep
                )
                return instance.zone, code, keep and code != 0
        finally:
            if busy is not None:
                self._done(busy)

    def _upstream_head(self, request: http1.Head, peer: str, body: bytes | None) -> bytes:
        method, target, version = request.first
        lookup = request.lookup
        if request.plain and version == "HTTP/1.1":
            # Nothing to drop: pass the head on as received, with the forwarding headers.
            prior = lookup.get("x-forwarded-for")
            extra = f"X-Forwarded-For: {prior + ', ' + peer if prior else peer}\r\n"
            if "x-forwarded-host" not in lookup:
                extra += f"X-Forwarded-Host: {lookup.get('host', '')}\r\n"
            if "x-forwarded-proto" not in lookup:
                extra += "X-Forwarded-Proto: http\r\n"
            return request.raw[:-2] + extra.encode("latin-1") + b"\r\n"
        headers = request.forwardable()
        if body is not None and request.chunked():
            headers = [(n, v) for n, v in headers if n.lower() != "content-length"]
            headers.append(("Content-Length", str(len(body))))
        elif body is None and request.chunked():
            raise http1.BadMessage("chunked bodies are buffered")  # pragma: no cover
        prior = request.header("x-forwarded-for")
        headers.append(("X-Forwarded-For", f"{prior}, {peer}" if prior else peer))
        if request.header("x-forwarded-host") is None:
            headers.append(("X-Forwarded-Host", request.header("host") or ""))
        if request.header("x-forwarded-proto") is None:
            headers.append(("X-Forwarded-Proto", "http"))
        return http1.render(f"{method} {target} HTTP/1.1", headers)

    async def _relay(
        self,
        method: str,
        raw: bytes,
        connection: Connection,
        writer: asyncio.StreamWriter,
        instance: Backend,
        generation: int,
        keep: bool,
    ) -> int:
        """Relay an instance's answer to the client; returns its status (0: client must close)."""
        ours = self._stamp(instance, generation)
        relayed = await http1.relay_answer(method, raw, connection.reader, writer, keep, ours)
        if relayed.upstream_keeps:
            self._pool.put(connection)
        else:
            connection.close()
        return 0 if relayed.until_close else relayed.status

    def _stamp(self, instance: Backend, generation: int) -> bytes:
        """The headers naming who answered, ready to append to a head."""
        key = (instance.id, generation)
        stamp = self._stamps.get(key)
        if stamp is None:
            if len(self._stamps) > 4096:
                self._stamps.clear()
            stamp = self._stamps[key] = (
                f"X-Ferryman-Version: {instance.version}\r\n"
                f"X-Ferryman-Zone: {instance.zone}\r\n"
                f"X-Ferryman-Instance: {instance.id}\r\n"
                f"X-Ferryman-Generation: {generation}\r\n"
            ).encode("latin-1")
        return stamp

    def _copy(self, request: http1.Head, service: str, version: str, body: bytes) -> None:
        instance = self._pick_instance(service, version, None, set())
        if instance is None:
            return
        method, target, _ = request.first
        headers = [(n, v) for n, v in request.forwardable() if n.lower() != "content-length"]
        headers += [("X-Ferryman-Mirror", "1"), ("Content-Length", str(len(body)))]
        message = http1.render(f"{method} {target} HTTP/1.1", headers) + body
        self._spawn(self._send_copy(instance.port, message, method))

    async def _send_copy(self, port: int, message: bytes, method: str) -> None:
        with contextlib.suppress(Exception):
            connection = await self._pool.get(port)
            connection.writer.write(message)
            async with asyncio.timeout(30):
                answer = http1.parse_response(await connection.reader.readuntil(b"\r\n\r\n"))
                length = answer.length()
                if length and method != "HEAD":
                    await connection.reader.readexactly(length)
                elif answer.chunked():
                    await http1.read_chunked(connection.reader)
            if answer.keep_alive(answer.first[0]) and (length is not None or answer.chunked()):
                self._pool.put(connection)
            else:
                connection.close()

    def _own(self, target: str, table: RegionTable, keep: bool) -> bytes:
        parts = urlsplit(target)
        if parts.path == "/_ferryman/table":
            staged = self.staged
            payload = {
                "environment": self.environment,
                "region": self.region,
                "zone": self.zone,
                "generation": table.generation,
                "staged": None if staged is None else staged.generation,
                "services": {
                    name: chooser.table.model_dump(mode="json")
                    for name, chooser in table.services.items()
                },
            }
            return _answer(200, json.dumps(payload), "application/json", table.generation, keep)
        if parts.path == "/_ferryman/stats":
            raw = parse_qs(parts.query).get("window", ["60"])[0]
            try:
                window = float(raw)
            except ValueError:
                return _plain(400, f"window must be seconds, got {raw!r}", table.generation)
            text = json.dumps(self.stats.window_json(window))
            return _answer(200, text, "application/json", table.generation, keep)
        text = "\n".join(self.metrics_lines(table)) + "\n"
        return _answer(200, text, "text/plain; charset=utf-8", table.generation, keep)

    def metrics_lines(self, table: RegionTable | None = None) -> list[str]:
        """The router's metrics in Prometheus text format."""
        table = table or self._table
        up: list[tuple[dict[str, str], float]] = []
        healthy: list[tuple[dict[str, str], float]] = []
        for backend in self._backends:
            labels = backend.labels(self.environment, self.region)
            up.append((labels, 1.0 if backend.up else 0.0))
            healthy.append((labels, 1.0 if backend.state == "healthy" else 0.0))
        return [
            *self.stats.render(),
            *gauge_lines("ferryman_instance_up", "Whether the instance process runs.", up),
            *gauge_lines(
                "ferryman_instance_healthy", "Whether the instance passes health.", healthy
            ),
            *gauge_lines(
                "ferryman_router_generation",
                "Route table generation the router serves.",
                [
                    (
                        {"environment": self.environment, "region": self.region}
                        | ({"zone": self.zone} if self.zone else {}),
                        float(table.generation),
                    )
                ],
            ),
        ]

    def _pick_service(self, table: RegionTable, host: str) -> Chooser | str:
        if not table.services:
            return f"no routes set in region {self.region}"
        label = host.split(":", 1)[0].split(".", 1)[0]
        chooser = table.services.get(label)
        if chooser is not None:
            return chooser
        if len(table.services) == 1:
            return next(iter(table.services.values()))
        names = ", ".join(sorted(table.services))
        return f"host {host!r} names none of the services routed in {self.region}: {names}"

    def _pick_instance(
        self, service: str, version: str, zone: str | None, tried: set[str]
    ) -> Backend | None:
        candidates = self._serving.get((service, version), [])
        if tried:
            candidates = [b for b in candidates if b.id not in tried]
        if zone is not None:
            local = [b for b in candidates if b.zone == zone]
            candidates = local or candidates
        if not candidates:
            return None
        turn = self._turns.get((service, version, zone or ""))
        if turn is None:
            turn = self._turns[(service, version, zone or "")] = itertools.count()
        return candidates[next(turn) % len(candidates)]


async def _drain_body(reader: asyncio.StreamReader, length: int | None, chunked: bool) -> None:
    if chunked:
        await http1.read_chunked(reader)
    elif length:
        await reader.readexactly(length)


def _answer(status: int, text: str, content_type: str, generation: int, keep: bool) -> bytes:
    data = text.encode()
    headers = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(data))),
        ("X-Ferryman-Generation", str(generation)),
    ]
    if not keep:
        headers.append(("Connection", "close"))
    return http1.render(f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}", headers) + data


def _plain(
    status: int,
    message: str,
    generation: int,
    version: str | None = None,
    close: bool = False,
) -> bytes:
    data = (message + "\n").encode()
    headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(data))),
        ("X-Ferryman-Generation", str(generation)),
    ]
    if version:
        headers.append(("X-Ferryman-Version", version))
    if close:
        headers.append(("Connection", "close"))
    return http1.render(f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}", headers) + data
