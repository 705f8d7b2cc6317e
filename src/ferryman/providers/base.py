"""The provider Protocol: what ferryman asks of a platform.

A provider owns the real world: it starts instances of a version in a zone,
reports their health, routes a region's traffic between versions, and retires
what is no longer needed. Every mutating call takes an idempotency ``key``
(release id + step id): repeating a call with the same key returns the first
answer and repeats no side effect, so a retried or replayed activity is safe.

A platform whose regions can have one data plane per zone (``data-plane:
zonal``) also implements :class:`ZonalTraffic`: the two phases of a switch of
every zone's router, as separate idempotent calls (see
:mod:`ferryman.platform.twophase`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from ferryman.platform.models import (
    HealthReport,
    Instance,
    InstanceRequest,
    RouteTable,
    ServiceState,
)


@runtime_checkable
class Provider(Protocol):
    """A platform that runs instances and routes traffic."""

    async def prepare(
        self, key: str, request: InstanceRequest, secrets: Mapping[str, str] | None = None
    ) -> list[Instance]:
        """Start ``request.replicas`` instances of a version in a zone (idempotent by key).

        ``secrets`` holds the values of ``request.secrets``, read by the caller: the
        instances get them as variables, and the provider returns or records them
        nowhere (the key's fingerprint leaves them out, so a rotated value is no conflict).
        """
        ...

    async def health(self, region: str, zone: str, service: str, version: str) -> HealthReport:
        """Check every instance of a version in a zone."""
        ...

    async def set_traffic(self, key: str, region: str, routes: RouteTable) -> int:
        """Atomically replace a region's routes for a service; returns the new generation."""
        ...

    async def current_state(self, region: str, service: str) -> ServiceState:
        """Versions per zone, routes and generation for a service in a region."""
        ...

    async def retire(self, key: str, region: str, zone: str, service: str, version: str) -> int:
        """Stop every instance of a version in a zone; returns how many were stopped."""
        ...


@runtime_checkable
class ZonalTraffic(Protocol):
    """A platform that switches a region's zone routers together, in two phases.

    ``stage_traffic`` gives every zone router the region's new table for a
    service under a new generation (phase 1); a zone that refuses aborts the
    switch everywhere and the call raises, nothing changed. ``commit_traffic``
    makes every zone serve it (phase 2); a zone that missed it raises
    ``AgentUnavailable`` (retryable) and repeating the call forces it. Both are
    idempotent by key; an aborted generation is never served.
    """

    async def stage_traffic(
        self, key: str, region: str, zones: tuple[str, ...], routes: RouteTable
    ) -> int:
        """Stage ``routes`` in every zone router of ``region``; returns the staged generation."""
        ...

    async def commit_traffic(self, key: str, region: str, generation: int) -> int:
        """Make every zone router serve the staged ``generation``; returns it."""
        ...

    async def abort_traffic(self, key: str, region: str, generation: int) -> bool:
        """Drop a staged, undecided ``generation`` everywhere; whether one was dropped."""
        ...
