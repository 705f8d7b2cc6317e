"""An in-memory provider for pure workflow-logic tests (never proof that a feature works).

It keeps instances and route tables in dictionaries, records every call, and
can be told that a zone never becomes healthy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ferryman.errors import ProviderError
from ferryman.platform.models import (
    HealthReport,
    Instance,
    InstanceRequest,
    Launch,
    RouteTable,
    ServiceState,
)
from ferryman.platform.routes import RouteError, check_table


def launch_of(request: InstanceRequest) -> Launch:
    """How ``request`` launches its version (what a provider records to restore it)."""
    return Launch(
        artifact_digest=request.artifact_digest,
        command=request.command,
        env=request.env,
        secrets=request.secrets,
        replicas=request.replicas,
        health_path=request.health_path,
        health_status=request.health_status,
    )


def healthy_instances(request: InstanceRequest, count: int) -> list[Instance]:
    """``count`` instances of ``request``'s version, healthy at once, on ports from 10000."""
    return [
        Instance(
            id=f"{request.service}-{request.version}-{request.zone}-{i}",
            region=request.region,
            zone=request.zone,
            service=request.service,
            version=request.version,
            port=10000 + i,
            pid=None,
            state="healthy",
            artifact_digest=request.artifact_digest,
        )
        for i in range(count)
    ]


@dataclass
class FakeProvider:
    """Implements ``Provider`` in memory; ``unhealthy_zones`` never pass health checks.

    A zone is named either alone (``"b"``: zone b of every region) or with its
    region (``"eu-3/b"``).
    """

    unhealthy_zones: set[str] = field(default_factory=set)
    instances: dict[tuple[str, str, str, str], int] = field(default_factory=dict)
    routes: dict[tuple[str, str], RouteTable] = field(default_factory=dict)
    generation: dict[str, int] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    launches: dict[tuple[str, str, str], Launch] = field(default_factory=dict)
    starts: int = 0
    secret_names: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _keys: dict[str, object] = field(default_factory=dict)

    async def prepare(
        self, key: str, request: InstanceRequest, secrets: Mapping[str, str] | None = None
    ) -> list[Instance]:
        """Record ``request.replicas`` instances (once per key); secrets' names only."""
        self.calls.append(("prepare", key))
        self.secret_names[key] = tuple(sorted(secrets or {}))
        where = (request.region, request.zone, request.service, request.version)
        self.launches[(request.region, request.service, request.version)] = launch_of(request)
        if key not in self._keys and self.instances.get(where, 0) < request.replicas:
            self.starts += request.replicas - self.instances.get(where, 0)
            self.instances[where] = request.replicas
            self._keys[key] = True
        return healthy_instances(request, self.instances[where])

    async def health(self, region: str, zone: str, service: str, version: str) -> HealthReport:
        """Healthy unless the zone is in ``unhealthy_zones``."""
        total = self.instances.get((region, zone, service, version), 0)
        sick = zone in self.unhealthy_zones or f"{region}/{zone}" in self.unhealthy_zones
        healthy = 0 if sick else total
        return HealthReport(
            region=region, zone=zone, service=service, version=version, healthy=healthy, total=total
        )

    async def set_traffic(self, key: str, region: str, routes: RouteTable) -> int:
        """Swap the route table; refuses versions that run nowhere in the region."""
        self.calls.append(("set_traffic", key))
        if key in self._keys:
            return self.generation[region]
        try:
            check_table(routes)
        except RouteError as error:
            raise ProviderError(str(error)) from None
        for version in sorted(routes.versions()):
            if not any(k[0] == region and k[3] == version for k in self.instances):
                raise ProviderError(f"version {version!r} has no instances in {region}")
        self.routes[(region, routes.service)] = routes
        self.generation[region] = self.generation.get(region, 0) + 1
        self._keys[key] = True
        return self.generation[region]

    async def current_state(self, region: str, service: str) -> ServiceState:
        """Versions per zone and the route table."""
        by_zone: dict[str, list[str]] = {}
        for (reg, zone, svc, version), count in sorted(self.instances.items()):
            if reg == region and svc == service and count:
                by_zone.setdefault(zone, []).append(version)
        running = {v for versions in by_zone.values() for v in versions}
        return ServiceState(
            region=region,
            service=service,
            launches={
                v: launch
                for (reg, svc, v), launch in self.launches.items()
                if reg == region and svc == service and v in running
            },
            versions_by_zone=by_zone,
            routes=self.routes.get((region, service)),
            generation=self.generation.get(region, 0),
            router_url=f"http://router.{region}.invalid",
        )

    async def retire(self, key: str, region: str, zone: str, service: str, version: str) -> int:
        """Forget a version's instances in a zone."""
        self.calls.append(("retire", key))
        return self.instances.pop((region, zone, service, version), 0)
