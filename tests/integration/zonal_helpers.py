"""Zonal regions in integration tests: deploys with ``data-plane: zonal``, faults, request logs."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ferryman.providers.local import LocalProvider, control
from ferryman.providers.local.traffic import zone_key
from ferryman.providers.local.wire import RequestEntry
from ferryman.temporal.models.region import RegionDeployRequest
from ferryman.testing import AgentProcess

from .bluegreen_helpers import RegionDeployer


@dataclass
class ZonalDeployer(RegionDeployer):
    """Region deploys of the hello service to a 3-zone *zonal* region."""

    def request(
        self, version: str, command: str = "exec python3 server.py", **options: object
    ) -> RegionDeployRequest:
        return (
            super().request(version, command, **options).model_copy(update={"data_plane": "zonal"})
        )


async def fault(
    agent: AgentProcess, region: str, zone: str, environment: str = "test", **fault: Any
) -> dict[str, Any]:
    """Set a fault on a zone router's control channel (``refuse=…``, ``delay_stage=…``)."""
    ident = control.identity(agent.state_dir, (environment, zone_key(region, zone)))
    return await control.call(control.socket_name(ident), {"op": "fault", **fault})


async def wait_for_event(provider: LocalProvider, kind: str, since: int, within: float = 60) -> int:
    """Wait until the agent records an event of ``kind`` after ``since``; returns its seq."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        events = await provider.events(kind=kind, since=since)
        if events:
            return events[0].seq
        await asyncio.sleep(0.01)
    raise AssertionError(f"the agent recorded no {kind} event in {within:g}s")


def versions_after(entries: Sequence[RequestEntry], after: float) -> dict[str, set[str]]:
    """Zone → versions that answered requests received after ``after``."""
    found: dict[str, set[str]] = {}
    for entry in entries:
        if entry.time > after and entry.status < 500 and entry.version:
            found.setdefault(entry.zone, set()).add(entry.version)
    return found


def clean_cut(entries: Sequence[RequestEntry]) -> dict[str, list[int]]:
    """Zone → the generations its requests saw, in receipt order, repeats collapsed.

    A zone that switched cleanly shows each generation once, in increasing order.
    """
    seen: dict[str, list[int]] = {}
    for entry in entries:
        gens = seen.setdefault(entry.zone, [])
        if not gens or gens[-1] != entry.generation:
            gens.append(entry.generation)
    return seen
