"""The load generator: paced (or as-fast-as-possible) requests from many sticky users.

Each request carries a user id (``X-User-Id`` and the cookie ``ferryman_user``)
drawn from ``users`` ids, so a router's user-bucket rules keep each user on one
variant. Answers are counted per version (the router's ``X-Ferryman-Version``)::

    stats = await run_load(LoadConfig(targets=["http://127.0.0.1:7500"], rps=200, duration=10))
    print("\\n".join(stats.lines()))
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp

from ferryman.traffic.pacing import Pacer
from ferryman.traffic.stats import LoadStats

_LATE_S = 0.010


@dataclass(frozen=True)
class LoadConfig:
    """What to send.

    Attributes:
        targets: Base URLs; requests go to them in turn.
        rps: Requests per second; ``None`` sends as fast as ``concurrency`` allows.
        duration: Seconds to send for (ignored when ``requests`` is set).
        requests: Exactly this many requests.
        users: Distinct user ids.
        path: Request path.
        host: ``Host`` header (picks the service on a router with several).
        concurrency: Requests in flight at most.
        timeout: Seconds one request may take.
        seed: Seed of the user choice, for repeatable runs.
        headers: Extra headers on every request.
    """

    targets: tuple[str, ...]
    rps: float | None = 100.0
    duration: float = 10.0
    requests: int | None = None
    users: int = 1000
    path: str = "/"
    host: str | None = None
    concurrency: int = 64
    timeout: float = 10.0
    seed: int = 0
    headers: dict[str, str] = field(default_factory=dict)


Tick = Callable[[LoadStats], None]


@dataclass(frozen=True)
class Answer:
    """One request as the client saw it: when it was sent, where, and who answered.

    Attributes:
        sent_at: Wall-clock time (``time.time()``) the request was sent.
        target: The base URL it went to.
        version: The router's ``X-Ferryman-Version``; ``-`` without one or without an answer.
        status: The HTTP status; ``None`` when no answer came.
        seconds: How long it took.
    """

    sent_at: float
    target: str
    version: str
    status: int | None
    seconds: float


OnAnswer = Callable[[Answer], None]


class _Run:
    def __init__(
        self,
        config: LoadConfig,
        session: aiohttp.ClientSession,
        stats: LoadStats,
        stop: asyncio.Event | None,
        on_answer: OnAnswer | None = None,
    ) -> None:
        self.config = config
        self.on_answer = on_answer
        self.session = session
        self.stats = stats
        self.stop = stop
        self.random = random.Random(config.seed)
        self.sent = 0
        self.slots = asyncio.Semaphore(config.concurrency)

    def more(self, deadline: float) -> bool:
        if self.config.requests is not None:
            return self.sent < self.config.requests
        if self.stop is not None:
            return not self.stop.is_set()
        return time.monotonic() < deadline

    async def one(self, n: int) -> None:
        config = self.config
        user = f"user-{self.random.randrange(config.users)}"
        headers = {**config.headers, "X-User-Id": user, "Cookie": f"ferryman_user={user}"}
        if config.host:
            headers["Host"] = config.host
        target = config.targets[n % len(config.targets)]
        url = target + config.path
        sent_at = time.time()
        started = time.perf_counter()
        status: int | None
        try:
            async with self.session.get(url, headers=headers, allow_redirects=False) as answer:
                await answer.read()
                version = answer.headers.get("X-Ferryman-Version", "-")
                status = answer.status
        except (aiohttp.ClientError, TimeoutError):
            self.stats.failures += 1
            version, status = "-", None
        finally:
            self.slots.release()
        seconds = time.perf_counter() - started
        self.stats.add(version, status, seconds)
        if self.on_answer is not None:
            self.on_answer(Answer(sent_at, target, version, status, seconds))


async def run_load(
    config: LoadConfig,
    tick: Tick | None = None,
    tick_every: float = 1.0,
    *,
    stop: asyncio.Event | None = None,
    into: LoadStats | None = None,
    on_answer: OnAnswer | None = None,
) -> LoadStats:
    """Send the load described by ``config``; ``tick`` sees the running totals every second.

    Args:
        config: What to send.
        tick: Called with the running totals every ``tick_every`` seconds.
        tick_every: Seconds between ticks.
        stop: Send until this is set, instead of for ``config.duration``
            (``config.requests``, when given, still counts exactly).
        into: Count into these stats as answers come (a live view); returned at the end.
        on_answer: Called with every request once it is answered (or got no answer),
            for a timeline of who answered when.

    Raises:
        ValueError: No targets, or a non-positive rate, users or concurrency.
    """
    if not config.targets:
        raise ValueError("no targets to send traffic to")
    if config.users < 1 or config.concurrency < 1:
        raise ValueError("users and concurrency must be at least 1")
    connector = aiohttp.TCPConnector(limit=config.concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=config.timeout)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()
    ) as session:
        run = _Run(config, session, into if into is not None else LoadStats(), stop, on_answer)
        pacer = None if config.rps is None else Pacer(config.rps)
        tasks: set[asyncio.Task[None]] = set()
        started = time.monotonic()
        deadline = started + config.duration
        ticker = None
        if tick is not None:
            ticker = asyncio.get_running_loop().create_task(_tick(run, started, tick, tick_every))
        try:
            while run.more(deadline):
                if pacer is not None:
                    late = await pacer.next()
                    if late > _LATE_S:
                        run.stats.late += 1
                    if not run.more(deadline):
                        break
                await run.slots.acquire()
                task = asyncio.get_running_loop().create_task(run.one(run.sent))
                run.sent += 1
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            if tasks:
                await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            if ticker is not None:
                ticker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ticker
        run.stats.elapsed = time.monotonic() - started
        return run.stats


async def _tick(run: _Run, started: float, tick: Tick, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        run.stats.elapsed = time.monotonic() - started
        tick(run.stats)
