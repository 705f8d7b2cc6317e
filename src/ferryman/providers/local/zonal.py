"""Zonal data planes on the local agent: a router per zone, a front, two-phase switches.

A region becomes *zonal* the first time a switch is staged in it (the region
deploy does so when the spec says ``data-plane: zonal``). It then has:

- one **zone router** per zone, a router process of its own on its own port
  (keyed ``(environment, "<region>@<zone>")``), routing only that zone's
  instances;
- a **front**: the region's router process (the region's URL does not change;
  a regional router is converted in place, without dropping a request), which
  sends each user to one zone router by rendezvous hash of the user id
  (:mod:`ferryman.providers.local.front`).

A switch goes through :class:`~ferryman.platform.twophase.Switch`:

1. ``stage``: the region's new tables go to every zone router as *staged*
   under a new generation. A zone that refuses or does not answer within
   :data:`STAGE_TIMEOUT_S` aborts the switch: every zone drops what it
   staged and the call fails with the reason; nothing changed for users.
2. ``commit``: the decision is written to the database first (from then on
   the switch can only complete), then every zone router activates the
   generation, at once or at an instant ``lead_ms`` ahead on the routers'
   shared clock. A zone that misses it is *lagging*: the call answers 503 and
   its repetition (the workflow's retry) commits it, or pushes the committed
   tables whole to a zone router that lost its staged copy.

Both are idempotent by key. ``abort`` drops a staged, undecided switch. A new
stage first settles the previous switch (aborting it if undecided, finishing
it if decided). ``set_zone`` moves one zone alone (what a naive per-zone
pipeline does; the benchmark's comparison).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from ferryman.platform.models import RouteTable
from ferryman.platform.routes import RouteError, check_table
from ferryman.platform.twophase import Switch, TwoPhaseError
from ferryman.providers.local.agent_errors import (
    AgentError,
    BadRequest,
    Conflict,
    NotFound,
    Unavailable,
)
from ferryman.providers.local.traffic import Routing, TrafficError, Where, split_key, zone_key
from ferryman.providers.local.wire import (
    AbortResult,
    CommitResult,
    RequestEntry,
    RoutesResult,
    StageResult,
    ZonalState,
    ZoneRouter,
)
from ferryman.providers.local.zonal_state import Tables, ZonalRegion, ZonalStore, ZoneServes

if TYPE_CHECKING:
    from ferryman.providers.local.core import AgentCore

log = logging.getLogger("ferryman.agent")

STAGE_TIMEOUT_S = 2.0
"""How long a zone router may take to acknowledge phase 1 before the switch aborts."""
COMMIT_GRACE_S = 2.0
"""How long past the agreed instant a zone router may take to confirm the commit."""
DEFAULT_COMMIT_LEAD_MS = 0.0
"""The agent's default for ``lead_ms``: commit on receipt (see docs/benchmarks.md)."""

_Result = TypeVar("_Result", bound=BaseModel)


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


class ZonalPlane:
    """Every zonal region of an agent.

    Args:
        core: The agent core (instances, traffic backend, store, idempotency).
        commit_lead_ms: Default lead of a commit's agreed instant (0: at once).
    """

    def __init__(self, core: AgentCore, commit_lead_ms: float = DEFAULT_COMMIT_LEAD_MS) -> None:
        self._core = core
        self._lead_ms = commit_lead_ms
        self._regions: dict[Where, ZonalRegion] = {}
        self._locks: dict[Where, asyncio.Lock] = {}
        self._store: ZonalStore | None = None

    @property
    def store(self) -> ZonalStore:
        """The zonal tables."""
        assert self._store is not None, "load() opens the zonal store"
        return self._store

    def load(self) -> None:
        """Read every zonal region from the agent's database (before routers come back)."""
        self._store = ZonalStore(self._core.store.connection)
        self._regions = self.store.load()
        for found in self._regions.values():
            switch = found.switch
            if switch is not None and switch.decided:
                # A commit under way when the agent stopped is final: the zone routers come
                # back on its generation (some may serve it already), never on the one before.
                for zone in switch.lagging:
                    found.zones[zone] = ZoneServes(switch.generation, dict(found.switch_tables))

    def is_zonal(self, where: Where) -> bool:
        """Whether a region (environment, region) is zonal."""
        return where in self._regions

    def zone_keys(self, where: Where) -> list[Where]:
        """The router keys of a zonal region's zone routers (none for a regional one)."""
        found = self._regions.get(where)
        return [] if found is None else [(where[0], zone_key(where[1], z)) for z in found.zones]

    def generations(self, where: Where) -> dict[str, int]:
        """The generation each zone router serves, as the agent recorded it."""
        found = self._regions.get(where)
        return {} if found is None else {z: s.generation for z, s in found.zones.items()}

    def routing(self, key: Where) -> Routing | None:
        """The routing of a zone router or of a zonal region's front; None for anything else."""
        environment, name = key
        region, zone = split_key(name)
        found = self._regions.get((environment, region))
        if found is None:
            return None
        if zone is None:
            ports = self._core.store.routers()
            front = {
                z: ports[(environment, zone_key(region, z))][0]
                for z in found.zones
                if (environment, zone_key(region, z)) in ports
            }
            _, generation = self._core.committed((environment, region))
            return Routing(environment, region, generation, front=front)
        serves = found.zones.get(zone)
        if serves is None:
            return None
        backends = tuple(b for b in self._core.backends((environment, region)) if b.zone == zone)
        return Routing(
            environment, region, serves.generation, dict(serves.tables), backends, zone=zone
        )

    # --- topology ------------------------------------------------------------------------------

    async def ensure(self, where: Where, zones: tuple[str, ...]) -> ZonalRegion:
        """Make a region zonal with (at least) these zones: zone routers first, then the front."""
        environment, region = where
        if self._core.traffic.name != "builtin":
            raise BadRequest(
                f"{environment}/{region}: a zonal data plane needs the builtin traffic backend"
                f" (this agent routes with {self._core.traffic.name})"
            )
        async with self._core.lock:
            found = self._regions.setdefault(where, ZonalRegion())
            added = [zone for zone in zones if zone not in found.zones]
            if not added:
                return found
            tables, generation = self._core.committed(where)
            for zone in added:
                found.zones[zone] = ZoneServes(generation, dict(tables))
            for zone in added:
                key = (environment, zone_key(region, zone))
                await self._core.open_router(key)
                await self._push(key)
                self._save_zone(where, found, zone)
            await self._core.open_router(where)
            await self._push(where)
            self._core.store.record_event(
                "router.zonal", detail=f"{environment}/{region} zones {', '.join(found.zones)}"
            )
            return found

    async def _push(self, key: Where, new_table: bool = True) -> None:
        routing = self.routing(key)
        assert routing is not None
        try:
            await self._core.traffic.push(routing, new_table=new_table)
        except TrafficError as error:
            raise AgentError(
                f"router {key[0]}/{key[1]} did not take its routing: {error}"
            ) from None

    def _save_zone(self, where: Where, found: ZonalRegion, zone: str) -> None:
        position = list(found.zones).index(zone)
        self.store.save_zone(where[0], where[1], zone, position, found.zones[zone])

    def _save_switch(
        self, where: Where, found: ZonalRegion, switch: Switch, tables: Tables
    ) -> None:
        found.switch, found.switch_tables = switch, tables
        self.store.save_switch(where[0], where[1], switch, tables)

    # --- the two phases ------------------------------------------------------------------------

    def _lock(self, where: Where) -> asyncio.Lock:
        return self._locks.setdefault(where, asyncio.Lock())

    async def _once(
        self,
        where: Where,
        operation: str,
        key: str,
        payload: Any,
        result: type[_Result],
        action: Callable[[], Awaitable[_Result]],
    ) -> _Result:
        return await self._core.once(
            where[0], operation, key, payload, result, action, lock=self._lock(where)
        )

    async def stage(
        self, environment: str, key: str, region: str, zones: tuple[str, ...], routes: RouteTable
    ) -> StageResult:
        """Phase 1: stage a service's new table in every zone router of a region."""
        where = (environment, region)
        payload = {"region": region, "zones": list(zones), "routes": routes.model_dump(mode="json")}
        return await self._once(
            where, "stage", key, payload, StageResult, lambda: self._stage(where, zones, routes)
        )

    async def _stage(self, where: Where, zones: tuple[str, ...], routes: RouteTable) -> StageResult:
        environment, region = where
        if not zones:
            raise BadRequest("a zonal switch needs the region's zones")
        try:
            check_table(routes)
        except RouteError as error:
            raise BadRequest(str(error)) from None
        refused = self._core.traffic.refuse(routes)
        if refused is not None:
            raise BadRequest(refused)
        for zone in zones:
            running = self._core.manager.running(environment, region, zone, routes.service)
            missing = sorted(routes.versions() - {r.version for r in running})
            if missing:
                raise Conflict(
                    f"zone {zone} refused the table: no running instance of {routes.service}"
                    f" {', '.join(missing)} there; the switch was aborted, nothing changed"
                )
        found = await self.ensure(where, zones)
        await self._settle(where, found)
        committed, generation = self._core.committed(where)
        tables = {**committed, routes.service: routes}
        if all(s.generation == generation and s.tables == tables for s in found.zones.values()):
            return StageResult(generation=generation, unchanged=True)
        switch = Switch.begin(self._next_generation(where, found), tuple(found.zones))
        self._save_switch(where, found, switch, tables)
        message = {
            "op": "stage",
            "generation": switch.generation,
            "tables": {s: t.model_dump(mode="json") for s, t in tables.items()},
        }
        answers = await self._each(where, switch.zones, message, STAGE_TIMEOUT_S)
        refusals = [(z, a) for z, a in answers.items() if isinstance(a, BaseException)]
        for zone, answer in answers.items():
            if not isinstance(answer, BaseException):
                switch = switch.ack(zone)
        if refusals:
            zone, refusal = refusals[0]
            switch = switch.refuse(zone, _one_line(refusal))
            self._save_switch(where, found, switch, tables)
            await self._drop(where, switch)
            self._event("routes.aborted", where, f"{switch.generation}: {switch.reason}")
            raise Conflict(
                f"{switch.reason}; the switch was aborted in every zone, nothing changed"
            )
        self._save_switch(where, found, switch, tables)
        self._event("routes.staged", where, f"{routes.service} {switch.generation}")
        return StageResult(generation=switch.generation)

    async def commit(
        self, environment: str, key: str, region: str, generation: int, lead_ms: float | None
    ) -> CommitResult:
        """Phase 2: decide, then activate a staged generation in every zone router."""
        where = (environment, region)
        payload = {"region": region, "generation": generation}
        lead = self._lead_ms if lead_ms is None else lead_ms
        return await self._once(
            where,
            "commit",
            key,
            payload,
            CommitResult,
            lambda: self._commit(where, generation, lead),
        )

    async def _commit(self, where: Where, generation: int, lead_ms: float) -> CommitResult:
        environment, region = where
        found = self._regions.get(where)
        if found is None:
            raise NotFound(f"{environment}/{region} has no zonal data plane")
        switch = found.switch
        if switch is None or switch.generation != generation:
            return self._commit_other(where, generation)
        first = not switch.decided
        try:
            switch = switch.decide()
        except TwoPhaseError as error:
            raise Conflict(str(error)) from None
        tables = found.switch_tables
        if first:
            self._save_switch(where, found, switch, tables)
            self._core.commit_routes(where, tables, generation)
        at = time.time() + lead_ms / 1000 if first and lead_ms > 0 else None
        message = {"op": "commit", "generation": generation, "at": at}
        answers = await self._each(where, switch.lagging, message, lead_ms / 1000 + COMMIT_GRACE_S)
        activated: dict[str, float | None] = {}
        late: list[str] = []
        problems: list[str] = []
        for zone, answer in answers.items():
            if isinstance(answer, BaseException):
                try:
                    await self._force(where, found, zone, generation, tables)
                except AgentError as error:
                    problems.append(f"zone {zone}: {_one_line(answer)}; forcing it: {error}")
                    continue
                activated[zone] = time.time()
            else:
                activated[zone] = answer.get("activated")
                if answer.get("late"):
                    late.append(zone)
            found.zones[zone] = ZoneServes(generation, dict(tables))
            self._save_zone(where, found, zone)
            switch = switch.activate(zone)
        self._save_switch(where, found, switch, tables)
        if switch.lagging:
            self._event("routes.lagging", where, f"{generation}: {'; '.join(problems)}")
            raise Unavailable(
                f"{environment}/{region}: zone(s) {', '.join(switch.lagging)} missed the commit of"
                f" generation {generation} ({'; '.join(problems)}); repeat the commit to force them"
            )
        services = " ".join(sorted(tables))
        self._event("routes.set", where, f"{services} {generation} zonal")
        return CommitResult(generation=generation, activated=activated, late=tuple(late))

    def _commit_other(self, where: Where, generation: int) -> CommitResult:
        """A commit of a generation that is not the latest switch's: done before, or refused."""
        environment, region = where
        earlier = self.store.switch(environment, region, generation)
        if earlier is not None and earlier.phase == "aborted":
            raise Conflict(f"generation {generation} was aborted: {earlier.reason}")
        _, current = self._core.committed(where)
        if generation <= current and (earlier is None or earlier.decided):
            return CommitResult(generation=generation)
        raise Conflict(f"generation {generation} was never staged in {environment}/{region}")

    async def abort(self, environment: str, key: str, region: str, generation: int) -> AbortResult:
        """Drop a staged, undecided switch in every zone router."""
        where = (environment, region)
        payload = {"region": region, "generation": generation}

        async def action() -> AbortResult:
            found = self._regions.get(where)
            switch = None if found is None else found.switch
            if found is None or switch is None or switch.generation != generation:
                return AbortResult(generation=generation, aborted=False)
            if switch.phase == "aborted":
                return AbortResult(generation=generation, aborted=False)
            try:
                switch = switch.abort("aborted by request")
            except TwoPhaseError as error:
                raise Conflict(str(error)) from None
            self._save_switch(where, found, switch, found.switch_tables)
            await self._drop(where, switch)
            self._event("routes.aborted", where, f"{generation}: {switch.reason}")
            return AbortResult(generation=generation, aborted=True)

        return await self._once(where, "abort", key, payload, AbortResult, action)

    async def set_zone(
        self, environment: str, key: str, region: str, zone: str, routes: RouteTable
    ) -> RoutesResult:
        """Replace one zone router's table for a service at once (no other zone changes)."""
        where = (environment, region)
        payload = {"region": region, "zone": zone, "routes": routes.model_dump(mode="json")}

        async def action() -> RoutesResult:
            found = self._regions.get(where)
            if found is None or zone not in found.zones:
                raise NotFound(f"{environment}/{region} has no zone router for {zone!r}")
            try:
                check_table(routes)
            except RouteError as error:
                raise BadRequest(str(error)) from None
            await self._settle(where, found)
            generation = self._next_generation(where, found)
            tables = {**found.zones[zone].tables, routes.service: routes}
            await self._force(where, found, zone, generation, tables)
            self._save_zone(where, found, zone)
            self._core.commit_routes(where, {routes.service: routes}, generation)
            self._event("routes.zone", where, f"{zone} {routes.service} {generation}")
            return RoutesResult(generation=generation)

        return await self._once(where, "zone-routes", key, payload, RoutesResult, action)

    async def set_routes(
        self, environment: str, key: str, region: str, routes: RouteTable
    ) -> RoutesResult:
        """A one-call switch of a zonal region: stage and commit (the Provider's set_traffic)."""
        found = self._regions[(environment, region)]
        staged = await self.stage(environment, f"{key}/stage", region, tuple(found.zones), routes)
        if not staged.unchanged:
            await self.commit(environment, f"{key}/commit", region, staged.generation, None)
        return RoutesResult(generation=staged.generation)

    # --- helpers -------------------------------------------------------------------------------

    async def _settle(self, where: Where, found: ZonalRegion) -> None:
        """Before a new switch: abort an undecided one, finish a decided one."""
        switch = found.switch
        if switch is None or switch.phase in ("aborted", "committed"):
            return
        if not switch.decided:
            switch = switch.abort("superseded by a newer switch")
            self._save_switch(where, found, switch, found.switch_tables)
            await self._drop(where, switch)
            self._event("routes.aborted", where, f"{switch.generation}: {switch.reason}")
            return
        await self._commit(where, switch.generation, 0.0)

    def _next_generation(self, where: Where, found: ZonalRegion) -> int:
        _, committed = self._core.committed(where)
        latest = found.switch.generation if found.switch else 0
        return max(committed, latest, *(s.generation for s in found.zones.values())) + 1

    async def _force(
        self, where: Where, found: ZonalRegion, zone: str, generation: int, tables: Tables
    ) -> None:
        """Push a zone router its whole routing at ``generation`` (restarting it if it died)."""
        previous = found.zones[zone]
        found.zones[zone] = ZoneServes(generation, dict(tables))
        try:
            await self._push((where[0], zone_key(where[1], zone)))
        except AgentError:
            found.zones[zone] = previous
            raise

    async def _drop(self, where: Where, switch: Switch) -> None:
        """Tell every zone router to drop the aborted generation (best effort)."""
        message = {"op": "abort", "generation": switch.generation}
        answers = await self._each(where, switch.zones, message, STAGE_TIMEOUT_S)
        for zone, answer in answers.items():
            if isinstance(answer, BaseException):
                log.warning("zone %s of %s/%s kept generation %s staged: %s", zone, *where,
                            switch.generation, answer)  # fmt: skip

    async def _each(
        self, where: Where, zones: tuple[str, ...], message: dict[str, Any], seconds: float
    ) -> dict[str, dict[str, Any] | BaseException]:
        """Send one control message to several zone routers at once."""
        call = getattr(self._core.traffic, "call", None)
        assert call is not None, "zonal regions run on the builtin backend"
        keys = [(where[0], zone_key(where[1], zone)) for zone in zones]
        answers = await asyncio.gather(
            *(call(key, message, seconds) for key in keys), return_exceptions=True
        )
        return dict(zip(zones, answers, strict=True))

    def _event(self, kind: str, where: Where, detail: str) -> None:
        self._core.store.record_event(kind, detail=f"{where[0]}/{where[1]} {detail}")

    # --- views ---------------------------------------------------------------------------------

    async def state(self, environment: str, region: str) -> ZonalState:
        """A zonal region's routers as they answer now, and its latest switch."""
        where = (environment, region)
        found = self._regions.get(where)
        if found is None:
            raise NotFound(f"{environment}/{region} has no zonal data plane")
        answers = await self._each(where, tuple(found.zones), {"op": "state"}, STAGE_TIMEOUT_S)
        urls = self._core.traffic.urls()
        zones = []
        for zone, answer in answers.items():
            url = urls.get((environment, zone_key(region, zone)), "")
            if isinstance(answer, BaseException):
                zones.append(ZoneRouter(zone=zone, url=url, generation=None))
            else:
                zones.append(
                    ZoneRouter(
                        zone=zone,
                        url=url,
                        generation=int(answer["generation"]),
                        staged=answer.get("staged"),
                    )
                )
        return ZonalState(
            region=region, front_url=urls.get(where, ""), zones=tuple(zones), switch=found.switch
        )

    async def request_log(
        self, environment: str, region: str, since: float, keys: list[Where]
    ) -> list[RequestEntry]:
        """Every request the given routers received after ``since``, oldest first."""
        call = getattr(self._core.traffic, "call", None)
        if call is None:
            raise NotFound(
                f"the {self._core.traffic.name} backend keeps no request log"
                f" ({environment}/{region})"
            )
        answers = await asyncio.gather(
            *(call(key, {"op": "log", "since": since}, 10.0) for key in keys),
            return_exceptions=True,
        )
        entries: list[RequestEntry] = []
        for key, answer in zip(keys, answers, strict=True):
            if isinstance(answer, BaseException):
                raise AgentError(f"router {key[0]}/{key[1]} did not send its log: {answer}")
            entries += [
                RequestEntry(
                    time=e[0], service=e[1], version=e[2], status=e[3], generation=e[4], zone=e[5]
                )
                for e in answer["entries"]
            ]
        entries.sort(key=lambda entry: entry.time)
        return entries
