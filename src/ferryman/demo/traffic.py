"""Users of the shop, all along: steady traffic through every production router.

One load generator per service (``Host: catalog``, ``Host: checkout``) sends
paced requests from sticky users to the routers of every region in turn, from
the first deploy to the end of the story. Each answer lands in two places: the
generator's per-version counts (``stats``) and a timeline of who answered
what, where and when (``timeline``), from which ``measure`` reads skew windows,
the bad version's requests and how fast a rollback stopped it.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from ferryman.traffic import Answer, LoadConfig, LoadStats, run_load
from ferryman.traffic.stats import is_error


@dataclass(frozen=True)
class Seen:
    """One request: when it was sent, which region and service, who answered, whether it failed."""

    at: float
    region: str
    service: str
    version: str
    failed: bool


@dataclass
class WorldTraffic:
    """Background traffic to ``services`` through ``routers`` (region → URL).

    Attributes:
        routers: Each region's router.
        services: The services to send to, by ``Host`` header.
        rps: Requests per second to each service, spread over the routers.
        users: Distinct sticky users.
        timeline: Every answer so far, in the order they came.
        stats: Each service's per-version counts, as the generator keeps them.
    """

    routers: dict[str, str]
    services: tuple[str, ...]
    rps: float
    users: int = 3000
    timeline: list[Seen] = field(default_factory=list)
    stats: dict[str, LoadStats] = field(default_factory=dict)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[LoadStats]] = field(default_factory=list)

    def start(self) -> None:
        """Start sending (in the running event loop)."""
        regions = {url: region for region, url in self.routers.items()}
        for index, service in enumerate(self.services):
            stats = self.stats.setdefault(service, LoadStats())

            def seen(answer: Answer, service: str = service) -> None:
                self.timeline.append(
                    Seen(
                        at=answer.sent_at,
                        region=regions[answer.target],
                        service=service,
                        version=answer.version,
                        failed=is_error(answer.status),
                    )
                )

            config = LoadConfig(
                targets=tuple(self.routers.values()),
                rps=self.rps,
                users=self.users,
                host=service,
                seed=index,
                timeout=30,  # a slow answer on a busy machine is an answer, not a failure
            )
            load = run_load(config, stop=self._stop, into=stats, on_answer=seen)
            self._tasks.append(asyncio.ensure_future(load))

    async def stop(self) -> None:
        """Stop sending and wait for the answers still on their way."""
        self._stop.set()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=60)
        self._tasks.clear()

    def since(self, start: float, end: float | None = None) -> list[Seen]:
        """The answers to requests sent from ``start`` (to ``end``)."""
        return [s for s in self.timeline if s.at >= start and (end is None or s.at <= end)]
