"""The seam between the agent and whatever carries a region's traffic.

The agent decides *what* is routed (route tables, generations, which
instances may take traffic); a :class:`TrafficBackend` makes a router do it.
Two exist: ``builtin`` (ferryman's own router, one process per region,
:mod:`ferryman.providers.local.builtin`) and ``haproxy`` (Debian's HAProxy,
:mod:`ferryman.providers.local.haproxy`).

Every push carries the whole :class:`Routing` of one (environment, region);
a backend applies a new table whole or not at all.

A zonal region (:mod:`ferryman.providers.local.zonal`) has one router per zone,
keyed ``(environment, "<region>@<zone>")`` (``@`` is never part of a name), and
its region's own router becomes the *front* that spreads users across them
(``Routing.front``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ferryman.platform.models import RouteTable

Where = tuple[str, str]
"""(environment, region): what a router serves; a zone router's region is ``<region>@<zone>``."""
ZONE_MARK = "@"


def zone_key(region: str, zone: str) -> str:
    """The region part of a zone router's :data:`Where`."""
    return f"{region}{ZONE_MARK}{zone}"


def split_key(key: str) -> tuple[str, str | None]:
    """(region, zone) of a router's region key; zone is None for a region's own router."""
    region, _, zone = key.partition(ZONE_MARK)
    return region, zone or None


@dataclass(frozen=True)
class Backend:
    """One instance as a router sees it."""

    id: str
    service: str
    version: str
    zone: str
    port: int
    state: str
    up: bool

    @property
    def serving(self) -> bool:
        """Whether it may take traffic."""
        return self.up and self.state == "healthy"

    def labels(self, environment: str, region: str) -> dict[str, str]:
        """Metric labels naming the instance."""
        return {
            "environment": environment,
            "region": region,
            "zone": self.zone,
            "service": self.service,
            "version": self.version,
            "instance": self.id,
        }

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "id": self.id,
            "service": self.service,
            "version": self.version,
            "zone": self.zone,
            "port": self.port,
            "state": self.state,
            "up": self.up,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Backend:
        """The inverse of :meth:`to_json`."""
        return cls(
            id=str(data["id"]),
            service=str(data["service"]),
            version=str(data["version"]),
            zone=str(data["zone"]),
            port=int(data["port"]),
            state=str(data["state"]),
            up=bool(data["up"]),
        )


@dataclass(frozen=True)
class Routing:
    """Everything a router of one (environment, region) needs, at one moment.

    Attributes:
        environment: The environment.
        region: The region.
        generation: The route generation (the highest of its tables').
        tables: Service → route table.
        backends: Every running instance of the region (of the zone, for a zone router).
        zone: The zone a zone router serves (None: the region's own router).
        front: Zone → port of every zone router, when the region's router is the
            front of a zonal region (empty: it routes to instances itself).
    """

    environment: str
    region: str
    generation: int = 0
    tables: Mapping[str, RouteTable] = field(default_factory=dict)
    backends: tuple[Backend, ...] = ()
    zone: str | None = None
    front: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def at(cls, where: Where) -> Routing:
        """An empty routing for a router key (a zone router's key names its zone)."""
        region, zone = split_key(where[1])
        return cls(where[0], region, zone=zone)

    @property
    def where(self) -> Where:
        """(environment, region), or (environment, ``<region>@<zone>``) for a zone router."""
        region = self.region if self.zone is None else zone_key(self.region, self.zone)
        return (self.environment, region)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "environment": self.environment,
            "region": self.region,
            "generation": self.generation,
            "tables": {s: t.model_dump(mode="json") for s, t in self.tables.items()},
            "backends": [b.to_json() for b in self.backends],
            "zone": self.zone,
            "front": dict(self.front),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Routing:
        """The inverse of :meth:`to_json`."""
        return cls(
            environment=str(data["environment"]),
            region=str(data["region"]),
            generation=int(data["generation"]),
            tables={s: RouteTable.model_validate(t) for s, t in data["tables"].items()},
            backends=tuple(Backend.from_json(b) for b in data["backends"]),
            zone=data.get("zone"),
            front={str(z): int(p) for z, p in (data.get("front") or {}).items()},
        )


class TrafficError(Exception):
    """A backend could not do what it was asked; the message is one line."""


class TrafficBackend(Protocol):
    """Runs the routers of every (environment, region) and keeps them up to date."""

    name: str

    def refuse(self, table: RouteTable) -> str | None:
        """Why this backend cannot serve ``table`` (one line), or None if it can."""
        ...

    async def start(
        self, routers: Mapping[Where, tuple[int, int | None]], routings: list[Routing]
    ) -> None:
        """Adopt or restart the routers a previous agent left (ports and pids from state).

        Raises:
            TrafficError: A router cannot be brought back.
        """
        ...

    async def open(self, where: Where, port: int) -> int:
        """Start a router for a new (environment, region) on ``port`` (0: any); returns its port.

        Raises:
            TrafficError: It cannot listen there.
        """
        ...

    async def push(self, routing: Routing, new_table: bool) -> None:
        """Make the router of ``routing.where`` route by it (``new_table``: the table changed).

        Raises:
            TrafficError: The router did not take it; it keeps the previous one.
        """
        ...

    def urls(self) -> dict[Where, str]:
        """The URL clients send each region's traffic to."""
        ...

    def scrape_targets(self) -> list[dict[str, object]]:
        """Prometheus HTTP service discovery entries for the routers' metrics."""
        ...

    async def supervise(self, routing: dict[Where, Routing]) -> None:
        """One supervision pass: bring back routers that died (with their routing)."""
        ...

    async def agent_url(self, url: str) -> None:
        """Where routers report instances that refused a connection."""
        ...

    async def close(self, stop_routers: bool) -> None:
        """Let go of the routers; stop them too if asked."""
        ...
