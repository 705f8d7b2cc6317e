"""Built-in routers are processes of their own: they outlive the agent and come back when killed."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import httpx
import pytest

from ferryman.platform.models import RouteTable
from ferryman.testing.load import steady_load
from ferryman.testing.platform import LocalPlatform
from ferryman.testing.waiting import eventually
from ferryman.traffic import LoadConfig, run_load

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


async def router_pid(platform: LocalPlatform) -> int:
    """The pid of the router process the agent last started or adopted."""
    events = await platform.provider.events()
    pid = [e.pid for e in events if e.kind.startswith("router.") and e.pid][-1]
    assert pid is not None
    return pid


@pytest.mark.parametrize(
    "backend", ["builtin", pytest.param("haproxy", marks=pytest.mark.needs_haproxy)]
)
async def test_an_agent_killed_under_steady_traffic_fails_no_request(
    tmp_path: Path, backend: str
) -> None:
    async with LocalPlatform(tmp_path, traffic_backend=backend) as platform:
        await asyncio.gather(
            platform.deploy("r1", "a", "v1", replicas=2), platform.deploy("r1", "b", "v2")
        )
        table = RouteTable(service="web", weights={"v1": 80, "v2": 20})
        generation = await platform.route("r1", table)
        url = await platform.router_url("r1")
        pid = await router_pid(platform)
        since = (await platform.provider.events())[-1].seq

        async with steady_load(url, rps=200) as load:
            await load.reached(100)
            await asyncio.to_thread(platform.agent.kill)
            await load.reached(load.stats.requests + 200)  # served with no agent at all
            await asyncio.to_thread(platform.agent.start)
            await load.reached(load.stats.requests + 100)
        during = load.stats

        assert during.errors == 0 and during.failures == 0
        # The split stays exact: off by at most a request where each round-robin (re)started.
        assert abs(during.by_version["v2"].requests - 0.20 * during.requests) <= 2
        kinds = [e.kind for e in await platform.provider.events(since=since)]
        assert "router.adopted" in kinds
        assert not {"router.started", "router.restarted", "instance.restarted"} & set(kinds)
        assert await router_pid(platform) == pid
        state = await platform.provider.current_state("r1", "web")
        assert (state.generation, state.routes, state.router_url) == (generation, table, url)
        # The adopted router takes new tables from the new agent.
        await platform.route("r1", RouteTable(service="web", weights={"v2": 100}))
        steady = await run_load(LoadConfig(targets=(url,), rps=None, requests=100))
        assert {v: s.requests for v, s in steady.by_version.items()} == {"v2": 100}


async def test_a_killed_router_is_restarted_on_its_port_with_its_table(tmp_path: Path) -> None:
    async with LocalPlatform(tmp_path) as platform:
        await platform.deploy("r1", "a", "v1")
        generation = await platform.route("r1", RouteTable(service="web", weights={"v1": 100}))
        url = await platform.router_url("r1")
        pid = await router_pid(platform)
        os.kill(pid, signal.SIGKILL)

        async def restarted() -> bool:
            kinds = [e.kind for e in await platform.provider.events()]
            return "router.restarted" in kinds

        await eventually(restarted, what="the killed router to be restarted")
        assert await router_pid(platform) != pid
        async with httpx.AsyncClient() as client:
            answer = await client.get(url)
        assert answer.text == "v1"
        assert answer.headers["X-Ferryman-Generation"] == str(generation)
        exited = await platform.provider.events("router.exited")
        assert [e.pid for e in exited] == [pid]
