"""The agent's behaviour behind its HTTP API: prepare, health, routes, state, retire.

Everything is scoped to an environment: instances, route tables, generations
and routers are keyed by (environment, region), so two environments with a
region of the same name never touch each other's.

Mutating calls run one at a time under a lock and are idempotent by key
(within an environment): the first answer to a key is stored and returned
again for every repeat. A key reused for a different request is refused.

Zonal regions (a router per zone, a front, two-phase switches) are
:mod:`ferryman.providers.local.zonal`'s; the core asks it for their routings.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import IO, Any, TypeVar

from pydantic import BaseModel

from ferryman.platform.models import (
    HealthReport,
    InstanceRequest,
    Launch,
    RouteTable,
    ServiceState,
)
from ferryman.platform.routes import RouteError, check_table
from ferryman.providers.local import processes, relabel
from ferryman.providers.local.agent_errors import (
    AgentError,
    AgentStartError,
    BadRequest,
    Conflict,
    NotFound,
)
from ferryman.providers.local.builtin import BuiltinTraffic
from ferryman.providers.local.holds import Holds
from ferryman.providers.local.instances import InstanceManager
from ferryman.providers.local.records import InstanceRecord
from ferryman.providers.local.records import Launch as LaunchRecord
from ferryman.providers.local.state import AgentStore
from ferryman.providers.local.traffic import (
    ZONE_MARK,
    Backend,
    Routing,
    TrafficBackend,
    TrafficError,
)
from ferryman.providers.local.wire import (
    EventsResult,
    InstancesResult,
    PrepareResult,
    RequestEntry,
    RetireBody,
    RetireResult,
    RoutesResult,
)
from ferryman.providers.local.zonal import DEFAULT_COMMIT_LEAD_MS, ZonalPlane

log = logging.getLogger("ferryman.agent")

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
_MAX_REPLICAS = 64
DRAIN_S = 5.0
"""How long a retire waits for requests in flight to withdrawn instances before stopping them."""
_Result = TypeVar("_Result", bound=BaseModel)


Where = tuple[str, str]
"""(environment, region): what instances, routes and a router belong to."""
TRAFFIC_BACKENDS = ("builtin", "haproxy")


def check_names(**names: str) -> None:
    """Raise :class:`BadRequest` unless every value is a valid name (environment, region…)."""
    for what, value in names.items():
        if not _NAME.fullmatch(value):
            raise BadRequest(
                f"{what} {value!r} must be 1-63 letters, digits, '.', '_' or '-',"
                " starting with a letter or digit"
            )


def _zone_router(target: dict[str, object]) -> bool:
    labels = target.get("labels")
    return isinstance(labels, dict) and ZONE_MARK in str(labels.get("region", ""))


def _fingerprint(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _install_release(source: Path, target: Path) -> None:
    if target.is_dir():
        return
    if not source.is_dir():
        raise BadRequest(f"artifact_dir {source} is not a directory")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial-{secrets.token_hex(4)}")
    shutil.copytree(source, partial, symlinks=True)
    os.rename(partial, target)


class AgentCore:
    """Instances, routers and their state, as one platform.

    Args:
        state_dir: Holds ``agent.db``, ``logs/``, ``releases/`` and ``agent.lock``.
        host: Interface routers listen on.
        router_base_port: First port tried for a new region's router; 0 picks any free port.
        interval: Seconds between supervision passes.
        traffic: The traffic backend: ``builtin`` or ``haproxy``.
        haproxy: Options of the ``haproxy`` backend (binary, an existing instance…).
        commit_lead_ms: Default lead of a zonal commit's agreed instant (0: at once).
        holds: Offer test holds (:mod:`ferryman.providers.local.holds`); never in production.
    """

    def __init__(
        self,
        state_dir: Path,
        host: str,
        router_base_port: int,
        *,
        interval: float = 1.0,
        traffic: str = "builtin",
        haproxy: Mapping[str, str] | None = None,
        commit_lead_ms: float = DEFAULT_COMMIT_LEAD_MS,
        holds: bool = False,
    ) -> None:
        if traffic not in TRAFFIC_BACKENDS:
            raise AgentStartError(
                f"unknown traffic backend {traffic!r} (known: {', '.join(TRAFFIC_BACKENDS)})"
            )
        self._dir = state_dir
        self._host = host
        self._base_port = router_base_port
        self._interval = interval
        self._traffic_name = traffic
        self._haproxy = dict(haproxy or {})
        self._lock = asyncio.Lock()
        self._lock_file: IO[str] | None = None
        self._store: AgentStore | None = None
        self._manager: InstanceManager | None = None
        self._traffic: TrafficBackend | None = None
        self._routes: dict[Where, dict[str, tuple[RouteTable, int]]] = {}
        self._dirty: set[Where] = set()
        self._wake = asyncio.Event()
        self._pusher: asyncio.Task[None] | None = None
        self.zonal = ZonalPlane(self, commit_lead_ms)
        self.holds = Holds(self._record) if holds else None

    def _record(self, kind: str, detail: str) -> None:
        self.store.record_event(kind, detail=detail)

    @property
    def store(self) -> AgentStore:
        """The open state database."""
        assert self._store is not None, "start() opens the store"
        return self._store

    @property
    def manager(self) -> InstanceManager:
        """The instance manager."""
        assert self._manager is not None, "start() creates the manager"
        return self._manager

    @property
    def lock(self) -> asyncio.Lock:
        """The lock mutating calls of regional data planes run under."""
        return self._lock

    @property
    def traffic(self) -> TrafficBackend:
        """The traffic backend."""
        assert self._traffic is not None, "start() creates the traffic backend"
        return self._traffic

    def _make_traffic(self) -> TrafficBackend:
        if self._traffic_name == "haproxy":
            from ferryman.providers.local.haproxy import HAProxyTraffic

            return HAProxyTraffic(self._dir, self._host, self.store, self._haproxy.get("binary"))
        return BuiltinTraffic(self._dir, self._host, self.store)

    def router_page(
        self, environment: str, region: str, path: str, window: float
    ) -> tuple[str, str]:
        """A router's own page (``/metrics``, ``/_ferryman/…``) when the agent serves it."""
        page = getattr(self.traffic, "page", None)
        found = None if page is None else page((environment, region), path, window)
        if found is None:
            raise NotFound(f"the agent serves no router page for {environment}/{region}")
        content_type: str = found[0]
        text: str = found[1]
        return content_type, text

    async def start(self) -> None:
        """Lock the state dir, re-adopt instances, bring routers back, start supervising.

        Raises:
            AgentStartError: Another agent holds the state dir, or a router's port is taken.
        """
        self._dir.mkdir(parents=True, exist_ok=True)
        self._lock_file = (self._dir / "agent.lock").open("w")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AgentStartError(f"another agent already runs on {self._dir}") from None
        self._store = AgentStore(self._dir / "agent.db")
        self._manager = InstanceManager(self.store, self._dir / "logs", interval=self._interval)
        routers = self.store.routers()
        self.manager.reserved_ports.update(port for port, _ in routers.values())
        await self.manager.adopt()
        for environment, region, service, table, generation in self.store.routes():
            routes = RouteTable.model_validate(table)
            self._routes.setdefault((environment, region), {})[service] = (routes, generation)
        self.zonal.load()
        self._traffic = self._make_traffic()
        try:
            await self.traffic.start(routers, [self._routing(where) for where in routers])
        except TrafficError as error:
            raise AgentStartError(str(error)) from None
        self.manager.on_change = self._instances_changed
        self.manager.supervise()
        self._pusher = asyncio.get_running_loop().create_task(self._push_loop())

    async def serving(self, url: str) -> None:
        """Tell the routers the agent's API answers at ``url`` (where they report ejections)."""
        await self.traffic.agent_url(url)

    async def close(self, stop_instances: bool = False) -> None:
        """Stop supervision; stop instances and routers only if asked."""
        if self._pusher is not None:
            self._pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pusher
        if self._traffic is not None:
            await self._traffic.close(stop_routers=stop_instances)
        if self._manager is not None:
            await self._manager.close(stop_instances)
        if self._store is not None:
            self._store.close()
        if self._lock_file is not None:
            self._lock_file.close()

    def eject(self, environment: str, region: str, instance_id: str) -> None:
        """A router saw an instance refuse a connection: out of rotation until healthy."""
        check_names(environment=environment, region=region)
        record = next((r for r in self.manager.all() if r.id == instance_id), None)
        if record is None or (record.environment, record.region) != (environment, region):
            raise NotFound(f"no instance {instance_id!r} in {environment}/{region}")
        self.manager.eject(instance_id)

    async def prepare(
        self,
        environment: str,
        key: str,
        request: InstanceRequest,
        secrets: Mapping[str, str] | None = None,
    ) -> PrepareResult:
        """Make sure ``request.replicas`` instances of a version run in a zone.

        ``secrets`` are the values of ``request.secrets``: the key's fingerprint
        leaves them out (a rotated value is no conflict), events never name them.
        """
        check_names(environment=environment)
        missing = sorted(set(request.secrets) - set(secrets or {}))
        if missing:
            raise BadRequest(f"no value for secret(s) {', '.join(missing)}")
        payload = request.model_dump(mode="json")
        result = await self.once(
            environment,
            "prepare",
            key,
            payload,
            PrepareResult,
            lambda: self._prepare(environment, request, key, dict(secrets or {})),
        )
        current = {record.id: record for record in self.manager.all()}
        return PrepareResult(instances=[current[i.id].model() for i in result.instances])

    async def health(
        self, environment: str, region: str, zone: str, service: str, version: str
    ) -> HealthReport:
        """Probe every instance of a version in a zone now."""
        check_names(environment=environment)
        return await self.manager.check(environment, region, zone, service, version)

    async def set_routes(
        self, environment: str, key: str, region: str, service: str, routes: RouteTable
    ) -> RoutesResult:
        """Validate and install a service's route table in a region."""
        check_names(environment=environment)
        if self.zonal.is_zonal((environment, region)):
            check_names(region=region, service=service)
            if routes.service != service:
                raise BadRequest(
                    f"route table is for {routes.service!r}, the URL names {service!r}"
                )
            return await self.zonal.set_routes(environment, key, region, routes)
        payload = {"region": region, "service": service, "routes": routes.model_dump(mode="json")}
        return await self.once(
            environment,
            "routes",
            key,
            payload,
            RoutesResult,
            lambda: self._set_routes((environment, region), service, routes, key),
        )

    async def retire(self, environment: str, body: RetireBody) -> RetireResult:
        """Stop every instance of a version in a zone."""
        check_names(environment=environment)
        payload = body.model_dump(mode="json", exclude={"key"})

        async def action() -> RetireResult:
            doomed = self.manager.running(
                environment, body.region, body.zone, body.service, body.version
            )
            self.manager.withdraw(doomed)
            await self._sync((environment, body.region))
            await self._drain((environment, body.region), [r.id for r in doomed])
            await self.manager.stop(doomed)
            return RetireResult(stopped=len(doomed))

        return await self.once(environment, "retire", body.key, payload, RetireResult, action)

    def state(self, environment: str, region: str, service: str) -> ServiceState:
        """What a region runs and routes for one service."""
        check_names(environment=environment)
        where = (environment, region)
        by_zone: dict[str, set[str]] = {}
        per_zone: Counter[tuple[str, str]] = Counter()
        launched: dict[str, LaunchRecord] = {}
        for record in self.manager.running(environment, region, service=service):
            by_zone.setdefault(record.zone, set()).add(record.version)
            per_zone[(record.version, record.zone)] += 1
            launched[record.version] = record.launch
        launches = {
            version: Launch(
                artifact_digest=launch.artifact_digest,
                command=launch.command,
                env=launch.env,
                secrets=launch.secret_sources(),
                replicas=max(n for (v, _), n in per_zone.items() if v == version),
                health_path=launch.health_path,
                health_status=launch.health_status,
            )
            for version, launch in launched.items()
        }
        current = self._routes.get(where, {}).get(service)
        url = self.traffic.urls().get(where)
        return ServiceState(
            region=region,
            service=service,
            versions_by_zone={zone: sorted(v) for zone, v in sorted(by_zone.items())},
            routes=None if current is None else current[0],
            generation=self._generation(where),
            router_url=url,
            launches=launches,
            data_plane="zonal" if self.zonal.is_zonal(where) else "regional",
            zone_generations=self.zonal.generations(where),
        )

    def instances(self, environment: str | None = None) -> InstancesResult:
        """Every instance (of one environment, if given), stopped ones included."""
        if environment is not None:
            check_names(environment=environment)
        return InstancesResult(
            instances=[
                record.model()
                for record in self.manager.all()
                if environment in (None, record.environment)
            ]
        )

    def events(self, kind: str | None, since: int) -> EventsResult:
        """Events after ``since``, optionally of one kind."""
        return EventsResult(events=self.store.events(kind, since))

    async def service_metrics(self) -> str:
        """Every healthy instance's own ``/metrics``, labelled with where it runs."""
        records = [r for r in self.manager.all() if r.running and r.state == "healthy"]
        texts = await asyncio.gather(*(self.manager.fetch(r, "/metrics") for r in records))
        families: dict[str, None] = {}
        samples: list[str] = []
        for record, text in zip(records, texts, strict=True):
            if text is None:
                continue
            lines = text.splitlines()
            families.update(dict.fromkeys(relabel.comments(lines)))
            labels = record.labels()
            samples += relabel.add_labels([ln for ln in lines if not ln.startswith("#")], labels)
        return "\n".join([*families, *samples]) + "\n"

    def scrape_targets(self) -> list[dict[str, object]]:
        """Prometheus HTTP service discovery: every region's router (a front gathers its zones)."""
        return [t for t in self.traffic.scrape_targets() if not _zone_router(t)]

    def routers(self, environment: str) -> dict[str, str]:
        """Each region's router URL in one environment."""
        check_names(environment=environment)
        return {
            region: url
            for (env, region), url in self.traffic.urls().items()
            if env == environment and ZONE_MARK not in region
        }

    def environments(self) -> dict[str, dict[str, str]]:
        """Every environment with a router, and its routers' URLs by region."""
        found: dict[str, dict[str, str]] = {}
        for (environment, region), url in self.traffic.urls().items():
            if ZONE_MARK not in region:
                found.setdefault(environment, {})[region] = url
        return found

    async def request_log(self, environment: str, region: str, since: float) -> list[RequestEntry]:
        """Requests the region's routers (zone routers, if zonal) received after ``since``."""
        check_names(environment=environment, region=region)
        where = (environment, region)
        keys = self.zonal.zone_keys(where) or [where]
        if where not in self.traffic.urls():
            raise NotFound(f"{environment}/{region} has no router")
        return await self.zonal.request_log(environment, region, since, keys)

    async def once(
        self,
        environment: str,
        operation: str,
        key: str,
        payload: Any,
        result_type: type[_Result],
        action: Callable[[], Awaitable[_Result]],
        lock: asyncio.Lock | None = None,
    ) -> _Result:
        """Run ``action`` once per key (under ``lock``, default the core's); repeats get its answer.

        Raises:
            Conflict: The key was used for a different request.
        """
        if not key:
            raise BadRequest("key must not be empty")
        fingerprint = _fingerprint(payload)
        scoped = f"{environment}/{operation}:{key}"
        if self.holds is not None:
            self.holds.arrived(operation, key)
        async with lock or self._lock:
            stored = self.store.answer(scoped)
            if stored is not None:
                if stored[0] != fingerprint:
                    raise Conflict(f"key {key!r} was already used for a different {operation}")
                return result_type.model_validate(stored[1])
            result = await action()
            self.store.remember(scoped, fingerprint, result.model_dump(mode="json"))
            return result

    async def _prepare(
        self, environment: str, request: InstanceRequest, key: str, secrets: dict[str, str]
    ) -> PrepareResult:
        check_names(
            region=request.region,
            zone=request.zone,
            service=request.service,
            version=request.version,
        )
        if not 1 <= request.replicas <= _MAX_REPLICAS:
            raise BadRequest(f"replicas must be 1..{_MAX_REPLICAS}, got {request.replicas}")
        if not request.command.strip():
            raise BadRequest("command must not be empty")
        if not request.health_path.startswith("/"):
            raise BadRequest(f"health_path must start with '/', got {request.health_path!r}")
        cwd = await self._release_dir(environment, request)
        existing = self.manager.running(
            environment, request.region, request.zone, request.service, request.version
        )
        started = []
        for _ in range(request.replicas - len(existing)):
            started += self.manager.launch(environment, request, cwd, 1, secrets)
            if self.holds is not None:
                await self.holds.reach("prepare.started", key)
        return PrepareResult(instances=[record.model() for record in existing + started])

    async def _release_dir(self, environment: str, request: InstanceRequest) -> str:
        target = self._dir / "releases" / environment / request.service / request.version
        await asyncio.to_thread(_install_release, Path(request.artifact_dir), target)
        return str(target)

    async def _set_routes(
        self, where: Where, service: str, routes: RouteTable, key: str
    ) -> RoutesResult:
        environment, region = where
        check_names(region=region, service=service)
        if routes.service != service:
            raise BadRequest(f"route table is for {routes.service!r}, the URL names {service!r}")
        running = {r.version for r in self.manager.running(environment, region, service=service)}
        try:
            check_table(routes)
        except RouteError as error:
            raise BadRequest(str(error)) from None
        try:
            check_table(routes, running, region)
        except RouteError as error:
            raise Conflict(str(error)) from None
        refused = self.traffic.refuse(routes)
        if refused is not None:
            raise BadRequest(refused)
        await self._router(where)
        generation = self._generation(where) + 1
        tables = {s: t for s, (t, _) in self._routes.get(where, {}).items()}
        tables[service] = routes
        routing = Routing(environment, region, generation, tables, self._backends(where))
        try:
            await self.traffic.push(routing, new_table=True)
        except TrafficError as error:
            raise AgentError(
                f"router of {environment}/{region} did not take the table: {error}"
            ) from None
        self.store.save_routes(
            environment, region, service, routes.model_dump(mode="json"), generation
        )
        self._routes.setdefault(where, {})[service] = (routes, generation)
        self.store.record_event(
            "routes.set", detail=f"{environment}/{region} {service} {generation}"
        )
        if self.holds is not None:
            await self.holds.reach("routes.written", key)
        return RoutesResult(generation=generation)

    async def open_router(self, where: Where) -> None:
        """Start the router of ``where`` (a region, or a zone router's key) unless it runs."""
        await self._router(where)

    def backends(self, where: Where) -> tuple[Backend, ...]:
        """Every running instance of a region as a router sees it."""
        return self._backends(where)

    def committed(self, where: Where) -> tuple[dict[str, RouteTable], int]:
        """A region's route tables by service, and its generation."""
        return (
            {s: t for s, (t, _) in self._routes.get(where, {}).items()},
            self._generation(where),
        )

    def commit_routes(
        self, where: Where, tables: Mapping[str, RouteTable], generation: int
    ) -> None:
        """Record tables a zonal switch committed as the region's, at ``generation``."""
        environment, region = where
        for service, table in tables.items():
            self.store.save_routes(
                environment, region, service, table.model_dump(mode="json"), generation
            )
            self._routes.setdefault(where, {})[service] = (table, generation)

    async def _router(self, where: Where) -> None:
        if where in self.traffic.urls():
            return
        environment, region = where
        taken = {port for port, _ in self.store.routers().values()}
        taken |= {r.port for r in self.manager.all()}
        port = self._base_port
        while port and (port in taken or not processes.port_is_free(port, self._host)):
            port += 1
        try:
            port = await self.traffic.open(where, port)
        except TrafficError as error:
            raise AgentError(
                f"router of {environment}/{region} cannot listen on port {port}: {error}"
            ) from None
        self.manager.reserved_ports.add(port)

    def _backends(self, where: Where) -> tuple[Backend, ...]:
        return tuple(
            Backend(r.id, r.service, r.version, r.zone, r.port, r.state, r.pid is not None)
            for r in self.manager.running(*where)
        )

    def _routing(self, where: Where) -> Routing:
        zonal = self.zonal.routing(where)
        if zonal is not None:
            return zonal
        routes = self._routes.get(where, {})
        return Routing(
            where[0],
            where[1],
            self._generation(where),
            {s: t for s, (t, _) in routes.items()},
            self._backends(where),
        )

    def _instances_changed(self, records: list[InstanceRecord]) -> None:
        self._dirty.update((r.environment, r.region) for r in records)
        self._wake.set()

    async def _sync(self, where: Where) -> None:
        """Push a region's instances to its router now (no-op without a router)."""
        self._dirty.discard(where)
        for key in [where, *self.zonal.zone_keys(where)]:
            if key in self.traffic.urls():
                try:
                    await self.traffic.push(self._routing(key), new_table=False)
                except TrafficError as error:
                    log.warning("router of %s/%s: %s", *key, error)

    async def _drain(self, where: Where, instance_ids: list[str]) -> None:
        """Let requests the region's routers already sent to withdrawn instances finish."""
        call = getattr(self.traffic, "call", None)
        keys = [k for k in [where, *self.zonal.zone_keys(where)] if k in self.traffic.urls()]
        if call is None or not instance_ids or not keys:
            return
        message = {"op": "drain", "instances": instance_ids, "within": DRAIN_S}
        answers = await asyncio.gather(
            *(call(key, message, DRAIN_S + 1.0) for key in keys), return_exceptions=True
        )
        for key, answer in zip(keys, answers, strict=True):
            if isinstance(answer, BaseException) or answer.get("busy"):
                log.warning("router of %s/%s did not drain %s: %s", *key, instance_ids, answer)

    async def _push_loop(self) -> None:
        """Push instance changes to routers as they happen; supervise routers every interval."""
        next_pass = 0.0
        loop = asyncio.get_running_loop()
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, next_pass - loop.time())):
                    await self._wake.wait()
            self._wake.clear()
            try:
                for where in list(self._dirty):
                    await self._sync(where)
                if loop.time() >= next_pass:
                    routings = {w: self._routing(w) for w in self.traffic.urls()}
                    await self.traffic.supervise(routings)
                    next_pass = loop.time() + self._interval
            except Exception:
                log.exception("pushing to routers failed")

    def _generation(self, where: Where) -> int:
        return max((g for _, g in self._routes.get(where, {}).values()), default=0)
