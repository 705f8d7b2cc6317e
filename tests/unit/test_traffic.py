"""The load generator: pacing on a fake clock, percentiles, summaries, what counts as an error."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from ferryman.testing import free_port
from ferryman.testing.waiting import eventually
from ferryman.traffic import Answer, LoadConfig, LoadStats, Pacer, percentile, run_load


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_requests_are_due_on_a_fixed_grid_whatever_happened_before() -> None:
    clock = Clock()
    pacer = Pacer(200, clock=clock)
    assert pacer.due(0) == 1000.0
    clock.now = 1005.0  # a long stall does not shift the schedule
    assert pacer.due(10) == pytest.approx(1000.05)
    assert pacer.due(1000) == pytest.approx(1005.0)


async def test_a_late_request_is_reported_as_late_not_delayed() -> None:
    clock = Clock()
    pacer = Pacer(10, clock=clock)
    assert await pacer.next() == 0.0
    clock.now += 1.0
    assert await pacer.next() == pytest.approx(0.9)
    with pytest.raises(ValueError, match="rps must be > 0"):
        Pacer(0)


def test_percentiles_use_the_nearest_rank() -> None:
    values = [float(i) for i in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([], 99) == 0.0


def test_the_summary_names_each_version_with_its_share_and_errors() -> None:
    stats = LoadStats(elapsed=2.0)
    for _ in range(19):
        stats.add("v1", 200, 0.002)
    stats.add("v2", 503, 0.010)
    lines = stats.lines()
    assert lines[0] == (
        "20 requests in 2.0s = 10/s, errors 1 (5.00%): 5xx 1, unexpected 4xx 0, no answer 0; late 0"
    )
    assert lines[1].split()[:2] == ["v1", "19"] and "95.0%)" in lines[1]
    assert "errors 100.00%" in lines[2] and "p99   10.0ms" in lines[2]


def test_every_answer_but_2xx_and_3xx_is_an_error_and_4xx_are_counted_apart() -> None:
    stats = LoadStats()
    for status in (200, 204, 302, 304, 404, 400, 500, 503, None):
        stats.add("v1", status, 0.001)
    seen = stats.by_version["v1"]
    assert (seen.requests, seen.errors, seen.client_errors, seen.server_errors) == (9, 5, 2, 2)
    assert "errors 5 (55.56%): 5xx 2, unexpected 4xx 2" in stats.lines()[0]
    assert "4xx     2" in stats.lines()[1]


def test_merging_adds_every_figure() -> None:
    one, two = LoadStats(failures=1, late=2, elapsed=1.0), LoadStats(late=1, elapsed=2.0)
    one.add("v1", 200, 0.1)
    one.add("-", None, 0.2)
    two.add("v1", 404, 0.3)
    two.add("v2", 500, 0.4)
    one.merge(two)
    assert {v: (s.requests, s.errors) for v, s in one.by_version.items()} == {
        "v1": (2, 1),
        "-": (1, 1),
        "v2": (1, 1),
    }
    assert (one.client_errors, one.server_errors, one.failures, one.late) == (1, 1, 1, 3)
    assert one.elapsed == 3.0 and sorted(one.latencies()) == [0.1, 0.2, 0.3, 0.4]


@pytest.fixture
async def site() -> AsyncIterator[str]:
    """A server answering ``/`` 200, ``/moved`` 302, ``/missing`` 404 and ``/broken`` 503."""

    async def answer(request: web.Request) -> web.Response:
        status = {"/": 200, "/moved": 302, "/missing": 404, "/broken": 503}[request.path]
        headers = {"X-Ferryman-Version": "v1", "Location": "/"}
        return web.Response(status=status, text=request.path, headers=headers)

    app = web.Application()
    app.router.add_get("/{tail:.*}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_a_misrouted_request_is_an_error_not_a_success(site: str) -> None:
    async def sent(path: str) -> LoadStats:
        config = LoadConfig(targets=(site,), rps=None, requests=20, path=path)
        return await run_load(config)

    ok, moved, missing, broken = await asyncio.gather(
        sent("/"), sent("/moved"), sent("/missing"), sent("/broken")
    )
    assert (ok.requests, ok.errors) == (20, 0)
    assert (moved.requests, moved.errors) == (20, 0), "a redirect is not an error"
    assert (missing.errors, missing.client_errors, missing.server_errors) == (20, 20, 0)
    assert (broken.errors, broken.client_errors, broken.server_errors) == (20, 0, 20)


async def test_load_sent_until_stopped_counts_into_a_live_view(site: str) -> None:
    stop = asyncio.Event()
    live = LoadStats()
    task = asyncio.create_task(run_load(LoadConfig(targets=(site,), rps=200), stop=stop, into=live))

    async def ten() -> bool:
        return live.requests >= 10

    await eventually(ten, what="10 answers counted live")
    stop.set()
    final = await asyncio.wait_for(task, timeout=60)
    assert final is live and final.requests >= 10 and final.errors == 0


async def test_every_answer_reaches_the_timeline_with_when_where_and_who(site: str) -> None:
    seen: list[Answer] = []
    before = time.time()
    config = LoadConfig(targets=(site,), rps=None, requests=10, path="/broken")
    stats = await run_load(config, on_answer=seen.append)
    assert len(seen) == stats.requests == 10
    assert all(a.target == site and a.status == 503 and a.version == "v1" for a in seen)
    assert all(before <= a.sent_at <= time.time() and a.seconds >= 0 for a in seen)
