"""A region's router: an HTTP reverse proxy splitting each service's traffic between versions.

The router picks the service from the first label of the ``Host`` header (or
the region's only routed service), the version from the service's rules and
weighted split (:class:`ferryman.platform.routes.Chooser`), and the instance
among that version's healthy ones, preferring the zone named by the
``X-Ferryman-Client-Zone`` request header. The route table is an immutable
object replaced whole, so a request sees either the old table or the new one,
never a mix; every answer names the generation that routed it
(``X-Ferryman-Generation``).

Besides proxying, a router answers ``GET /metrics`` (Prometheus text),
``GET /_ferryman/stats?window=S`` (its counters over the last S seconds, JSON)
and ``GET /_ferryman/table`` (the generation and tables it serves).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

import aiohttp
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from ferryman.platform.models import RouteTable
from ferryman.platform.routes import Chooser
from ferryman.providers.local.records import InstanceRecord
from ferryman.providers.local.stats import RouterStats, gauge_lines

log = logging.getLogger("ferryman.agent")

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
_BUFFERED = 256 * 1024


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

    def replace(self, generation: int, table: RouteTable) -> RegionTable:
        """A new table where only ``table.service`` changed (others keep their cursors)."""
        services = {**self.services, table.service: Chooser(table)}
        return RegionTable(generation=generation, services=MappingProxyType(services))


class Backends(Protocol):
    """Where a router finds instances and reports broken ones."""

    def healthy(
        self, environment: str, region: str, service: str, version: str
    ) -> list[InstanceRecord]:
        """Instances of a version in a region that may take traffic."""
        ...

    def running(self, environment: str, region: str) -> list[InstanceRecord]:
        """Instances the agent keeps alive in a region."""
        ...

    def eject(self, instance_id: str) -> None:
        """Take an instance that refused a connection out of rotation."""
        ...


CLIENT_ZONE = "X-Ferryman-Client-Zone"
_OWN_PATHS = ("/metrics", "/_ferryman/stats", "/_ferryman/table")


class Router:
    """The reverse proxy of one region.

    Args:
        environment: The environment the region belongs to.
        region: The region it serves.
        backends: Source of healthy instances.
        host: Interface to listen on.
        port: Port to listen on.
    """

    def __init__(
        self, environment: str, region: str, backends: Backends, host: str, port: int
    ) -> None:
        self.environment = environment
        self.region = region
        self.host = host
        self.port = port
        self.stats = RouterStats(environment, region)
        self._backends = backends
        self._table = RegionTable()
        self._turns: dict[tuple[str, str, str], itertools.count[int]] = {}
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.ServerRunner | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._mirrors: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        """Base URL clients send traffic to."""
        return f"http://{self.host}:{self.port}"

    @property
    def table(self) -> RegionTable:
        """The table in force."""
        return self._table

    def install(self, table: RegionTable) -> None:
        """Replace the whole route table; requests already routed keep their instance."""
        self._table = table

    async def start(self) -> None:
        """Listen on the router's port.

        Raises:
            OSError: The port cannot be bound.
        """
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=15),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=2, sock_read=300),
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        self._runner = web.ServerRunner(web.Server(self._handle, access_log=None))
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.host, self.port, reuse_address=True).start()
        except OSError:
            await self.close()
            raise
        self.port = self._runner.addresses[0][1]
        self._ticker = asyncio.get_running_loop().create_task(self._tick())

    async def close(self) -> None:
        """Stop listening and drop pooled connections."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for task in list(self._mirrors):
            task.cancel()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _tick(self) -> None:
        while True:
            self.stats.snapshot()
            await asyncio.sleep(1.0)

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        table = self._table
        if request.method == "GET" and request.path in _OWN_PATHS:
            return self._own(request, table)
        started = time.perf_counter()
        routes = self._pick_service(table, request.host)
        if isinstance(routes, str):
            return _plain(404, routes, table.generation)
        service = routes.table.service
        version = routes.choose(request.headers, request.cookies if routes.needs_cookies else {})
        mirror = routes.mirror_to()
        body: bytes | None = None
        if mirror is not None and mirror != version and request.body_exists:
            body = await request.read()
        if mirror is not None and mirror != version:
            self._copy(request, service, mirror, body)
        zone = "none"
        response: web.StreamResponse | None = None
        try:
            response = await self._forward(request, service, version, table.generation, body)
            zone = response.headers.get("X-Ferryman-Zone", "none")
            return response
        finally:
            code = 499 if response is None else response.status
            self.stats.observe(service, version, zone, code, time.perf_counter() - started)

    async def _forward(
        self,
        request: web.BaseRequest,
        service: str,
        version: str,
        generation: int,
        body: bytes | None,
    ) -> web.StreamResponse:
        tried: set[str] = set()
        zone = request.headers.get(CLIENT_ZONE)
        while True:
            instance = self._pick_instance(service, version, zone, tried)
            if instance is None:
                message = f"no healthy instance of {service} {version} in {self.region}"
                return _plain(503, message, generation, version)
            tried.add(instance.id)
            try:
                upstream = await self._send(request, instance, body)
            except aiohttp.ClientConnectorError:
                self._backends.eject(instance.id)
                if len(tried) < 3:
                    continue
                return _plain(502, f"{instance.id} refused the connection", generation, version)
            except aiohttp.ServerDisconnectedError:
                replayable = body is not None or not request.body_exists
                if len(tried) < 3 and request.method in _IDEMPOTENT and replayable:
                    continue
                return _plain(502, f"{instance.id} closed the connection", generation, version)
            except TimeoutError:
                return _plain(504, f"{instance.id} did not answer in time", generation, version)
            except aiohttp.ClientError as error:
                return _plain(502, f"{instance.id} failed: {error}", generation, version)
            try:
                return await self._relay(request, upstream, instance, generation)
            finally:
                upstream.release()

    def _copy(
        self, request: web.BaseRequest, service: str, version: str, body: bytes | None
    ) -> None:
        instance = self._pick_instance(service, version, None, set())
        if instance is None or (request.body_exists and body is None):
            return

        async def send() -> None:
            assert self._session is not None
            url = URL(f"http://127.0.0.1:{instance.port}{request.raw_path}", encoded=True)
            headers = _forwardable(request.headers)
            headers["X-Ferryman-Mirror"] = "1"
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with self._session.request(
                    request.method, url, headers=headers, data=body, allow_redirects=False
                ) as answer:
                    await answer.read()

        task = asyncio.get_running_loop().create_task(send())
        self._mirrors.add(task)
        task.add_done_callback(self._mirrors.discard)

    def _own(self, request: web.BaseRequest, table: RegionTable) -> web.Response:
        if request.path == "/_ferryman/table":
            return web.json_response(
                {
                    "environment": self.environment,
                    "region": self.region,
                    "generation": table.generation,
                    "services": {
                        name: chooser.table.model_dump(mode="json")
                        for name, chooser in table.services.items()
                    },
                }
            )
        if request.path == "/_ferryman/stats":
            raw = request.query.get("window", "60")
            try:
                window = float(raw)
            except ValueError:
                return _plain(400, f"window must be seconds, got {raw!r}", table.generation)
            return web.json_response(self.stats.window_json(window))
        return web.Response(
            text="\n".join(self.metrics_lines(table)) + "\n",
            content_type="text/plain",
            charset="utf-8",
            headers={"X-Ferryman-Generation": str(table.generation)},
        )

    def metrics_lines(self, table: RegionTable | None = None) -> list[str]:
        """The router's metrics in Prometheus text format."""
        table = table or self._table
        up: list[tuple[dict[str, str], float]] = []
        healthy: list[tuple[dict[str, str], float]] = []
        for record in self._backends.running(self.environment, self.region):
            labels = record.labels()
            up.append((labels, 1.0 if record.pid is not None else 0.0))
            healthy.append((labels, 1.0 if record.state == "healthy" else 0.0))
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
                        {"environment": self.environment, "region": self.region},
                        float(table.generation),
                    )
                ],
            ),
        ]

    def _pick_service(self, table: RegionTable, host: str) -> Chooser | str:
        if not table.services:
            return f"no routes set in region {self.region}"
        label = host.split(":", 1)[0].split(".", 1)[0]
        if label in table.services:
            return table.services[label]
        if len(table.services) == 1:
            return next(iter(table.services.values()))
        names = ", ".join(sorted(table.services))
        return f"host {host!r} names none of the services routed in {self.region}: {names}"

    def _pick_instance(
        self, service: str, version: str, zone: str | None, tried: set[str]
    ) -> InstanceRecord | None:
        candidates = [
            r
            for r in self._backends.healthy(self.environment, self.region, service, version)
            if r.id not in tried
        ]
        if zone is not None:
            local = [r for r in candidates if r.zone == zone]
            candidates = local or candidates
        if not candidates:
            return None
        turn = self._turns.setdefault((service, version, zone or ""), itertools.count())
        return candidates[next(turn) % len(candidates)]

    async def _send(
        self, request: web.BaseRequest, instance: InstanceRecord, body: bytes | None
    ) -> aiohttp.ClientResponse:
        assert self._session is not None, "start() opens the session"
        headers = _forwardable(request.headers)
        peer = request.remote or ""
        prior = request.headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = f"{prior}, {peer}" if prior else peer
        headers.setdefault("X-Forwarded-Host", request.host)
        headers.setdefault("X-Forwarded-Proto", request.scheme)
        url = URL(f"http://127.0.0.1:{instance.port}{request.raw_path}", encoded=True)
        data = body if body is not None else (request.content if request.body_exists else None)
        return await self._session.request(
            request.method,
            url,
            headers=headers,
            data=data,
            allow_redirects=False,
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
        )

    async def _relay(
        self,
        request: web.BaseRequest,
        upstream: aiohttp.ClientResponse,
        instance: InstanceRecord,
        generation: int,
    ) -> web.StreamResponse:
        headers = _forwardable(upstream.headers)
        headers["X-Ferryman-Version"] = instance.version
        headers["X-Ferryman-Zone"] = instance.zone
        headers["X-Ferryman-Instance"] = instance.id
        headers["X-Ferryman-Generation"] = str(generation)
        length = upstream.content_length
        if length is not None and length <= _BUFFERED and request.method != "HEAD":
            # Small answers go out in one write; larger or unsized ones stream.
            try:
                body = await upstream.read()
            except (aiohttp.ClientError, TimeoutError) as error:
                return _plain(502, f"{instance.id} broke off its answer: {error}", generation)
            headers.popall("Content-Length", None)
            return web.Response(
                status=upstream.status, reason=upstream.reason, body=body, headers=headers
            )
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        response.headers.extend(headers)
        await response.prepare(request)
        try:
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
        except ConnectionResetError:
            return response
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("router %s: %s broke off its answer: %s", self.region, instance.id, error)
            response.force_close()
            return response
        await response.write_eof()
        return response


def _forwardable(headers: CIMultiDictProxy[str]) -> CIMultiDict[str]:
    named = {
        token.strip().lower()
        for value in headers.getall("Connection", [])
        for token in value.split(",")
    }
    return CIMultiDict(
        (name, value)
        for name, value in headers.items()
        if name.lower() not in _HOP_BY_HOP and name.lower() not in named
    )


def _plain(status: int, message: str, generation: int, version: str | None = None) -> web.Response:
    headers = {"X-Ferryman-Generation": str(generation)}
    if version:
        headers["X-Ferryman-Version"] = version
    return web.Response(status=status, text=message + "\n", headers=headers)
