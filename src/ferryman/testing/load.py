"""Steady load for as long as a block runs, with a live view to synchronise on.

::

    async with steady_load(router_url) as load:
        await load.reached(100)          # traffic is flowing
        await restart_something()
        await load.reached(load.stats.requests + 100)   # and still flows after
    assert load.stats.errors == 0

The load stops when the block ends, not after a duration picked to outlast it,
so what it saw covers exactly the block however slow the machine is.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from ferryman.testing.waiting import eventually
from ferryman.traffic import LoadConfig, LoadStats, run_load


@dataclass
class LiveLoad:
    """The answers of a running load, counted as they come."""

    stats: LoadStats = field(default_factory=LoadStats)

    async def reached(self, requests: int, within: float = 60.0) -> None:
        """Wait until at least ``requests`` answers were counted.

        Raises:
            NeverHappened: Not within ``within`` seconds.
        """

        async def enough() -> bool:
            return self.stats.requests >= requests

        await eventually(enough, what=f"{requests} answers to the load", within=within)


@asynccontextmanager
async def steady_load(
    *targets: str,
    rps: float = 80,
    users: int = 200,
    host: str | None = None,
    concurrency: int = 32,
) -> AsyncIterator[LiveLoad]:
    """Paced sticky-user load on ``targets`` while the block runs; yields its live view."""
    if not targets:
        raise ValueError("steady_load needs at least one target")
    stop = asyncio.Event()
    live = LiveLoad()
    config = LoadConfig(targets=targets, rps=rps, users=users, host=host, concurrency=concurrency)
    task = asyncio.create_task(run_load(config, stop=stop, into=live.stats))
    try:
        yield live
    finally:
        stop.set()
        await task
