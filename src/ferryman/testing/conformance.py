"""The provider conformance suite: behaviours every platform must show.

The checks are plain coroutines, independent of any test runner; a provider's
test module runs each against a real platform (see
``tests/integration/test_conformance_local.py``)::

    target = Target(provider=..., request=..., observe=..., break_health=..., ...)
    for check in CHECKS:
        await check(target)          # raises ConformanceError with what went wrong

What they require:

- ``prepare`` is idempotent: a repeated key, or the same request under a new
  key, starts nothing new;
- ``health`` reflects reality: instances become healthy, a broken one is
  reported, a repaired one recovers;
- ``set_traffic`` takes effect atomically: once it returns, every request goes
  by the new table; a refused table changes nothing; a repeated key returns the
  same generation;
- ``current_state`` survives a restart of the platform's control plane;
- ``retire`` frees resources: the version is gone from health and state, and
  its instances no longer accept work.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ferryman.errors import FerrymanError
from ferryman.platform.models import Instance, InstanceRequest, RouteTable, ServiceState
from ferryman.providers.base import Provider


class ConformanceError(AssertionError):
    """A provider does not behave as the Protocol requires."""


@dataclass
class Target:
    """A platform under test and the hooks the checks need.

    Attributes:
        provider: The provider under test.
        request: Builds the request for ``(zone, version)`` (same region and service each time).
        observe: Sends one request through the region's router; returns the version answering.
        break_health: Makes every instance of a version fail its health check.
        repair_health: Undoes ``break_health``.
        restart: Restarts the platform's control plane; returns a provider talking to it.
        released: Whether these (retired) instances no longer accept work.
        zones: Two zones of the region.
        within: Seconds a converging condition may take.
    """

    provider: Provider
    request: Callable[[str, str], InstanceRequest]
    observe: Callable[[ServiceState], Awaitable[str]]
    break_health: Callable[[str], Awaitable[None]]
    repair_health: Callable[[str], Awaitable[None]]
    restart: Callable[[], Awaitable[Provider]]
    released: Callable[[list[Instance]], Awaitable[bool]]
    zones: tuple[str, str] = ("a", "b")
    within: float = 60.0

    def key(self, step: str) -> str:
        """An idempotency key unique to this run and step."""
        return f"conformance/{id(self)}/{step}"


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConformanceError(message)


async def _until(target: Target, check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + target.within
    while not await check():
        if time.monotonic() > deadline:
            raise ConformanceError(f"timed out after {target.within:g}s waiting until {what}")
        await asyncio.sleep(0.1)


async def _ready(target: Target, zone: str, version: str) -> None:
    request = target.request(zone, version)

    async def healthy() -> bool:
        report = await target.provider.health(request.region, zone, request.service, version)
        return report.ready

    await _until(target, healthy, f"{request.service} {version} is healthy in {zone}")


async def prepare_is_idempotent(target: Target) -> None:
    """A repeated key, or the same request under a new key, starts nothing new."""
    zone = target.zones[0]
    request = target.request(zone, "c1")
    first = await target.provider.prepare(target.key("prepare-1"), request)
    again = await target.provider.prepare(target.key("prepare-1"), request)
    other_key = await target.provider.prepare(target.key("prepare-2"), request)
    ids = sorted(i.id for i in first)
    _require(len(ids) == request.replicas, f"prepare started {len(ids)}, not {request.replicas}")
    _require(sorted(i.id for i in again) == ids, "a repeated key started other instances")
    _require(
        sorted(i.id for i in other_key) == ids, "the same request under a new key started more"
    )
    await _ready(target, zone, "c1")
    await target.provider.retire(
        target.key("retire-c1"), request.region, zone, request.service, "c1"
    )


async def health_reflects_reality(target: Target) -> None:
    """Instances become healthy; a broken one is reported; a repaired one recovers."""
    zone = target.zones[0]
    request = target.request(zone, "c2")
    await target.provider.prepare(target.key("prepare-c2"), request)
    await _ready(target, zone, "c2")
    await target.break_health("c2")

    async def reported_broken() -> bool:
        report = await target.provider.health(request.region, zone, request.service, "c2")
        return report.total == request.replicas and report.healthy == 0 and bool(report.detail)

    try:
        await _until(target, reported_broken, "a failing health check is reported")
    finally:
        await target.repair_health("c2")
    await _ready(target, zone, "c2")
    await target.provider.retire(
        target.key("retire-c2"), request.region, zone, request.service, "c2"
    )


async def set_traffic_is_atomic(target: Target) -> None:
    """Once ``set_traffic`` returns, requests follow the new table; bad tables change nothing."""
    zone = target.zones[0]
    old, new = target.request(zone, "c3"), target.request(zone, "c4")
    region, service = old.region, old.service
    await asyncio.gather(
        target.provider.prepare(target.key("prepare-c3"), old),
        target.provider.prepare(target.key("prepare-c4"), new),
    )
    await asyncio.gather(_ready(target, zone, "c3"), _ready(target, zone, "c4"))
    for step, version in enumerate(("c3", "c4", "c3", "c4")):
        table = RouteTable(service=service, weights={version: 100})
        key = target.key(f"traffic-{step}")
        generation = await target.provider.set_traffic(key, region, table)
        state = await target.provider.current_state(region, service)
        _require(state.generation == generation, "current_state shows another generation")
        seen = {await target.observe(state) for _ in range(10)}
        _require(seen == {version}, f"after switching to {version}, requests reached {seen}")
        repeat = await target.provider.set_traffic(key, region, table)
        _require(repeat == generation, "a repeated set_traffic key gave another generation")
    bad = RouteTable(service=service, weights={"c3": 60, "c4": 60})
    try:
        await target.provider.set_traffic(target.key("traffic-bad"), region, bad)
    except FerrymanError:
        pass
    else:
        raise ConformanceError("weights summing to 120 were accepted")
    state = await target.provider.current_state(region, service)
    _require(state.routes == RouteTable(service=service, weights={"c4": 100}), "a bad table leaked")
    _require(
        {await target.observe(state) for _ in range(5)} == {"c4"}, "a bad table changed traffic"
    )


async def state_survives_restart(target: Target) -> None:
    """Versions, routes and generation read the same after the control plane restarts."""
    request = target.request(target.zones[1], "c5")
    await target.provider.prepare(target.key("prepare-c5"), request)
    await _ready(target, target.zones[1], "c5")
    before = await target.provider.current_state(request.region, request.service)
    target.provider = await target.restart()
    after = await target.provider.current_state(request.region, request.service)
    _require(after == before, f"state changed across a restart: {before} became {after}")
    if after.routes is not None:
        served = await target.observe(after)
        _require(served in after.routes.versions(), f"after a restart {served} answered")


async def retire_frees_resources(target: Target) -> None:
    """A retired version is gone from health and state, and its instances take no more work."""
    zone = target.zones[1]
    request = target.request(zone, "c6")
    started = await target.provider.prepare(target.key("prepare-c6"), request)
    await _ready(target, zone, "c6")
    region, service = request.region, request.service
    stopped = await target.provider.retire(target.key("retire-c6"), region, zone, service, "c6")
    _require(stopped == request.replicas, f"retire stopped {stopped}, not {request.replicas}")
    again = await target.provider.retire(target.key("retire-c6"), region, zone, service, "c6")
    _require(again == stopped, "a repeated retire key gave another answer")
    report = await target.provider.health(region, zone, service, "c6")
    _require(report.total == 0, f"{report.total} instances of a retired version remain")
    state = await target.provider.current_state(region, service)
    _require(
        "c6" not in state.versions_by_zone.get(zone, []), "state still lists a retired version"
    )
    _require(await target.released(started), "retired instances still accept work")


CHECKS: tuple[Callable[[Target], Awaitable[None]], ...] = (
    prepare_is_idempotent,
    health_reflects_reality,
    set_traffic_is_atomic,
    state_survives_restart,
    retire_frees_resources,
)
"""Every check, in an order that keeps each independent of the others' versions."""
