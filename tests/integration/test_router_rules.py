"""A region's router for real: weights, rules, sticky buckets, swaps, ejection, mirroring.

Each test starts the agent as its own process with fixture instances
(``ferryman.testing.instances``) and sends real HTTP through the router.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from ferryman.errors import ProviderError
from ferryman.platform.models import Mirror, RouteRule, RouteTable
from ferryman.providers.local.router import Router
from ferryman.providers.local.traffic import Backend, Routing
from ferryman.testing import free_port
from ferryman.testing.load import steady_load
from ferryman.testing.platform import LocalPlatform
from ferryman.testing.waiting import eventually
from ferryman.traffic import LoadConfig, VersionStats, run_load

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

R = "r1"


@pytest.fixture
async def platform(tmp_path: Path) -> AsyncIterator[LocalPlatform]:
    """An agent with v1 (two replicas) and v2 of ``web`` in zone ``a`` of region ``r1``."""
    async with LocalPlatform(tmp_path) as platform:
        await asyncio.gather(
            platform.deploy(R, "a", "v1", replicas=2), platform.deploy(R, "a", "v2")
        )
        yield platform


async def versions(url: str, n: int, **kwargs: object) -> Counter[str]:
    """Which version answered each of ``n`` sequential GETs."""
    seen: Counter[str] = Counter()
    async with httpx.AsyncClient() as client:
        for _ in range(n):
            answer = await client.get(url, **kwargs)  # type: ignore[arg-type]
            assert answer.status_code == 200, answer.text
            seen[answer.headers["X-Ferryman-Version"]] += 1
    return seen


async def test_a_weighted_split_is_exact_under_concurrent_load(platform: LocalPlatform) -> None:
    await platform.route(R, RouteTable(service="web", weights={"v1": 95, "v2": 5}))
    url = await platform.router_url(R)
    stats = await run_load(LoadConfig(targets=(url,), rps=None, requests=2000, concurrency=16))
    assert stats.errors == 0
    assert {v: s.requests for v, s in stats.by_version.items()} == {"v1": 1900, "v2": 100}


async def test_header_and_cookie_rules_pick_their_version(platform: LocalPlatform) -> None:
    table = RouteTable(
        service="web",
        weights={"v1": 100},
        rules=(
            RouteRule(version="v2", header="X-Beta", equals="yes"),
            RouteRule(version="v2", cookie="group", equals="canary"),
        ),
    )
    await platform.route(R, table)
    url = await platform.router_url(R)
    assert await versions(url, 5, headers={"X-Beta": "yes"}) == {"v2": 5}
    assert await versions(url, 5, headers={"X-Beta": "no"}) == {"v1": 5}
    assert await versions(url, 5, headers={"Cookie": "a=1; group=canary"}) == {"v2": 5}
    assert await versions(url, 5, headers={"Cookie": "group=control"}) == {"v1": 5}


async def test_users_stay_on_their_variant_while_the_percentage_grows(
    platform: LocalPlatform,
) -> None:
    await platform.route(R, RouteTable(service="web", weights={"v1": 100}))
    url = await platform.router_url(R)
    users = [f"user-{i}" for i in range(300)]
    variant: dict[str, str] = {}
    async with httpx.AsyncClient() as client:
        for buckets in (1_000, 3_000, 6_000):
            rule = RouteRule(version="v2", buckets=buckets)
            await platform.route(R, RouteTable(service="web", weights={"v1": 100}, rules=(rule,)))
            for user in users:
                answer = await client.get(url, headers={"X-User-Id": user})
                version = answer.headers["X-Ferryman-Version"]
                assert not (variant.get(user) == "v2" and version == "v1"), f"{user} flipped back"
                variant[user] = version
                again = await client.get(url, headers={"X-User-Id": user})
                assert again.headers["X-Ferryman-Version"] == version, f"{user} is not sticky"
            share = sum(1 for v in variant.values() if v == "v2") / len(users)
            assert abs(share - buckets / 10_000) < 0.1


async def test_swaps_under_load_are_atomic_and_never_fail(platform: LocalPlatform) -> None:
    first = await platform.route(R, RouteTable(service="web", weights={"v1": 100}))
    url = await platform.router_url(R)
    expected = {first: "v1"}
    seen: list[tuple[int, str]] = []
    stop = asyncio.Event()

    async def watch() -> None:
        async with httpx.AsyncClient() as client:
            while not stop.is_set():
                answer = await client.get(url)
                assert answer.status_code == 200, answer.text
                seen.append((int(answer.headers["X-Ferryman-Generation"]), answer.text))

    async with steady_load(url, rps=300, concurrency=32) as load:
        watcher = asyncio.create_task(watch())

        async def served_by(generation: int, version: str, answered: int) -> None:
            """Wait until the watcher saw ``generation`` and the load got ``version`` again."""

            async def watched() -> bool:
                if watcher.done():
                    watcher.result()  # the watcher failed: raise its error here
                return any(g == generation for g, _ in seen)

            async def loaded() -> bool:
                return load.stats.by_version.get(version, VersionStats()).requests > answered

            await eventually(watched, what=f"an answer routed by generation {generation}")
            await eventually(loaded, what=f"the load answered by {version} again")

        # Each table serves the watcher, and the load, before the next swap.
        await served_by(first, "v1", 0)
        for i in range(12):
            version = "v2" if i % 2 == 0 else "v1"
            answered = load.stats.by_version.get(version, VersionStats()).requests
            generation = await platform.route(R, RouteTable(service="web", weights={version: 100}))
            expected[generation] = version
            await served_by(generation, version, answered)
        stop.set()
        await watcher
    stats = load.stats
    assert stats.errors == 0 and stats.failures == 0
    assert set(stats.by_version) == {"v1", "v2"}
    assert {g for g, _ in seen} == set(expected), "every generation answered"
    for generation, body in seen:
        assert body == expected[generation], f"generation {generation} answered by {body}"


async def test_a_dead_instance_fails_no_request_and_is_replaced(
    platform: LocalPlatform,
) -> None:
    await platform.route(R, RouteTable(service="web", weights={"v1": 100}))
    url = await platform.router_url(R)
    victim = next(i for i in await platform.provider.instances() if i.version == "v1")
    assert victim.pid is not None
    os.killpg(victim.pid, signal.SIGKILL)
    assert await versions(url, 20) == {"v1": 20}

    # Whichever notices first, the router (a refused connection: ejected and reported)
    # or the agent's supervisor (the process is gone), the victim is started again.
    async def restarted() -> bool:
        events = await platform.provider.events("instance.restarted")
        return [e.instance for e in events] == [victim.id]

    await eventually(restarted, what="the dead instance to be started again")
    ejected = await platform.provider.events("instance.ejected")
    assert [e.instance for e in ejected] in ([], [victim.id]), "only the dead one was ejected"


async def test_the_router_ejects_an_instance_that_refuses_and_reports_it() -> None:
    # A router of its own, with no agent supervising: an instance it believes healthy
    # refuses connections; every request still succeeds, on the other one.
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="v1")

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    live_port, dead_port = free_port(), free_port()
    await web.TCPSite(runner, "127.0.0.1", live_port).start()
    reported: list[str] = []

    async def report(instance_id: str) -> None:
        reported.append(instance_id)

    router = Router("default", R, "127.0.0.1", free_port(), report=report)
    backends = tuple(
        Backend(name, "web", "v1", "a", port, "healthy", True)
        for name, port in (("dead", dead_port), ("live", live_port))
    )
    tables = {"web": RouteTable(service="web", weights={"v1": 100})}
    router.apply(Routing("default", R, 1, tables, backends))
    await router.start()
    try:
        assert await versions(router.url, 20) == {"v1": 20}
    finally:
        await router.close()
        await runner.cleanup()
    assert reported == ["dead"], "ejected at the first refusal, reported once"


async def test_mirrored_copies_reach_the_mirror_and_their_answers_are_dropped(
    platform: LocalPlatform,
) -> None:
    table = RouteTable(service="web", weights={"v1": 100}, mirror=Mirror(version="v2", percent=50))
    await platform.route(R, table)
    url = await platform.router_url(R)
    assert await versions(url, 40) == {"v1": 40}

    async def v2_requests() -> float:
        async with httpx.AsyncClient() as client:
            text = (await client.get(f"{platform.agent.url}/v1/metrics/services")).text
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("fixture_requests_total") and 'version="v2"' in line
        )

    async def twenty() -> bool:
        return await v2_requests() == 20

    await eventually(twenty, what="20 mirrored requests counted by v2", within=30)
    assert await v2_requests() == 20


async def test_bad_tables_are_refused_and_the_previous_one_keeps_serving(
    platform: LocalPlatform,
) -> None:
    good = await platform.route(R, RouteTable(service="web", weights={"v1": 100}))
    url = await platform.router_url(R)
    bad_tables = {
        "weights must sum to 100, got 90": RouteTable(service="web", weights={"v1": 90}),
        "weights are percents 0..100, got v1=110, v2=-10": RouteTable(
            service="web", weights={"v1": 110, "v2": -10}
        ),
        "cannot route web in r1 to v9: no running instance": RouteTable(
            service="web",
            weights={"v1": 100},
            rules=(RouteRule(version="v9", header="X-Beta", equals="1"),),
        ),
        "rules[0]: set exactly one of header, cookie or buckets": RouteTable(
            service="web", weights={"v1": 100}, rules=(RouteRule(version="v2"),)
        ),
    }
    for message, table in bad_tables.items():
        with pytest.raises(ProviderError) as caught:
            await platform.route(R, table)
        assert message in str(caught.value)
        assert "\n" not in str(caught.value)
    state = await platform.provider.current_state(R, "web")
    assert state.generation == good
    async with httpx.AsyncClient() as client:
        answer = await client.get(url)
    assert (answer.text, answer.headers["X-Ferryman-Generation"]) == ("v1", str(good))


async def test_the_client_zone_header_keeps_requests_in_that_zone(
    platform: LocalPlatform,
) -> None:
    await platform.deploy(R, "b", "v1")
    await platform.route(R, RouteTable(service="web", weights={"v1": 100}))
    url = await platform.router_url(R)
    zones: Counter[str] = Counter()
    async with httpx.AsyncClient() as client:
        for _ in range(12):
            answer = await client.get(url, headers={"X-Ferryman-Client-Zone": "b"})
            zones[answer.headers["X-Ferryman-Zone"]] += 1
        for _ in range(12):
            zones["any-" + (await client.get(url)).headers["X-Ferryman-Zone"]] += 1
    assert zones["b"] == 12 and zones["a"] == 0
    assert zones["any-a"] > 0 and zones["any-b"] > 0
