"""A region's router: an HTTP reverse proxy splitting each service's traffic by weight.

The router picks the service from the first label of the ``Host`` header (or
the region's only routed service), the version from the service's weighted
schedule, and the instance round-robin among that version's healthy ones. The
route table is an immutable object replaced whole, so a request sees either
the old table or the new one, never a mix.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

import aiohttp
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from ferryman.providers.local.records import InstanceRecord

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


def schedule(weights: Mapping[str, int]) -> tuple[str, ...]:
    """One cycle of smooth weighted round-robin over versions.

    The cycle is as short as the weights allow (50/50 gives two slots, 90/10
    ten) and interleaves versions evenly, so any whole number of cycles splits
    traffic exactly by weight.

    Args:
        weights: Version → positive or zero weight; at least one is positive.
    """
    live = {version: w for version, w in sorted(weights.items()) if w > 0}
    divisor = math.gcd(*live.values())
    reduced = {version: w // divisor for version, w in live.items()}
    total = sum(reduced.values())
    current = dict.fromkeys(reduced, 0)
    slots = []
    for _ in range(total):
        for version, weight in reduced.items():
            current[version] += weight
        chosen = max(current, key=lambda v: current[v])
        current[chosen] -= total
        slots.append(chosen)
    return tuple(slots)


@dataclass(frozen=True)
class ServiceRoutes:
    """One service's split; its cursor walks the schedule."""

    service: str
    weights: Mapping[str, int]
    slots: tuple[str, ...]
    _cursor: itertools.count[int] = field(default_factory=itertools.count, repr=False)

    @classmethod
    def build(cls, service: str, weights: Mapping[str, int]) -> ServiceRoutes:
        """Compile a service's weights into its schedule."""
        return cls(
            service=service, weights=MappingProxyType(dict(weights)), slots=schedule(weights)
        )

    def next_version(self) -> str:
        """The version the next request of this service goes to."""
        return self.slots[next(self._cursor) % len(self.slots)]


@dataclass(frozen=True)
class RegionTable:
    """Everything a router routes, at one generation."""

    generation: int = 0
    services: Mapping[str, ServiceRoutes] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def build(cls, generation: int, services: Mapping[str, ServiceRoutes]) -> RegionTable:
        """A table holding a read-only copy of ``services``."""
        return cls(generation=generation, services=MappingProxyType(dict(services)))


class Backends(Protocol):
    """Where a router finds instances and reports broken ones."""

    def healthy(self, region: str, service: str, version: str) -> list[InstanceRecord]:
        """Instances of a version in a region that may take traffic."""
        ...

    def eject(self, instance_id: str) -> None:
        """Take an instance that refused a connection out of rotation."""
        ...


class Router:
    """The reverse proxy of one region.

    Args:
        region: The region it serves.
        backends: Source of healthy instances.
        host: Interface to listen on.
        port: Port to listen on.
    """

    def __init__(self, region: str, backends: Backends, host: str, port: int) -> None:
        self.region = region
        self.host = host
        self.port = port
        self._backends = backends
        self._table = RegionTable()
        self._turns: dict[tuple[str, str], itertools.count[int]] = {}
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.ServerRunner | None = None

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

    async def close(self) -> None:
        """Stop listening and drop pooled connections."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        table = self._table
        routes = self._pick_service(table, request.host)
        if isinstance(routes, str):
            return _plain(404, routes)
        version = routes.next_version()
        tried: set[str] = set()
        while True:
            instance = self._pick_instance(routes.service, version, tried)
            if instance is None:
                return _plain(
                    503,
                    f"no healthy instance of {routes.service} {version} in {self.region}",
                    version,
                )
            tried.add(instance.id)
            try:
                upstream = await self._send(request, instance)
            except aiohttp.ClientConnectorError:
                self._backends.eject(instance.id)
                if len(tried) < 2:
                    continue
                return _plain(502, f"{instance.id} refused the connection", version)
            except aiohttp.ServerDisconnectedError:
                if len(tried) < 2 and request.method in _IDEMPOTENT and not request.body_exists:
                    continue
                return _plain(502, f"{instance.id} closed the connection", version)
            except TimeoutError:
                return _plain(504, f"{instance.id} did not answer in time", version)
            except aiohttp.ClientError as error:
                return _plain(502, f"{instance.id} failed: {error}", version)
            try:
                return await self._relay(request, upstream, instance)
            finally:
                upstream.release()

    def _pick_service(self, table: RegionTable, host: str) -> ServiceRoutes | str:
        if not table.services:
            return f"no routes set in region {self.region}"
        label = host.split(":", 1)[0].split(".", 1)[0]
        if label in table.services:
            return table.services[label]
        if len(table.services) == 1:
            return next(iter(table.services.values()))
        names = ", ".join(sorted(table.services))
        return f"host {host!r} names none of the services routed in {self.region}: {names}"

    def _pick_instance(self, service: str, version: str, tried: set[str]) -> InstanceRecord | None:
        candidates = [
            r for r in self._backends.healthy(self.region, service, version) if r.id not in tried
        ]
        if not candidates:
            return None
        turn = self._turns.setdefault((service, version), itertools.count())
        return candidates[next(turn) % len(candidates)]

    async def _send(
        self, request: web.BaseRequest, instance: InstanceRecord
    ) -> aiohttp.ClientResponse:
        assert self._session is not None, "start() opens the session"
        headers = _forwardable(request.headers)
        peer = request.remote or ""
        prior = request.headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = f"{prior}, {peer}" if prior else peer
        headers.setdefault("X-Forwarded-Host", request.host)
        headers.setdefault("X-Forwarded-Proto", request.scheme)
        url = URL(f"http://127.0.0.1:{instance.port}{request.raw_path}", encoded=True)
        return await self._session.request(
            request.method,
            url,
            headers=headers,
            data=request.content if request.body_exists else None,
            allow_redirects=False,
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
        )

    async def _relay(
        self, request: web.BaseRequest, upstream: aiohttp.ClientResponse, instance: InstanceRecord
    ) -> web.StreamResponse:
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        response.headers.extend(_forwardable(upstream.headers))
        response.headers["X-Ferryman-Version"] = instance.version
        response.headers["X-Ferryman-Zone"] = instance.zone
        response.headers["X-Ferryman-Instance"] = instance.id
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


def _plain(status: int, message: str, version: str | None = None) -> web.Response:
    headers = {"X-Ferryman-Version": version} if version else None
    return web.Response(status=status, text=message + "\n", headers=headers)
