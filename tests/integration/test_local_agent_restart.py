"""Killing the agent under load: instances keep their processes, routes come back as they were."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ferryman.platform.models import RouteTable
from ferryman.testing.load import steady_load
from ferryman.testing.platform import LocalPlatform
from ferryman.traffic import LoadConfig, run_load

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


async def test_an_agent_killed_under_load_comes_back_with_nothing_lost(tmp_path: Path) -> None:
    async with LocalPlatform(tmp_path) as platform:
        await asyncio.gather(
            platform.deploy("r1", "a", "v1", replicas=2), platform.deploy("r1", "b", "v2")
        )
        table = RouteTable(service="web", weights={"v1": 80, "v2": 20})
        generation = await platform.route("r1", table)
        url = await platform.router_url("r1")
        before = {i.id: i.pid for i in await platform.provider.instances()}
        last_event = (await platform.provider.events())[-1].seq

        async with steady_load(url, rps=150) as load:
            await load.reached(100)
            await asyncio.to_thread(platform.agent.kill)
            # The router is a process of its own: it answers while no agent runs at all.
            await load.reached(load.stats.requests + 100)
            await asyncio.to_thread(platform.agent.start)
            await load.reached(load.stats.requests + 100)
        during = load.stats

        after = {i.id: i.pid for i in await platform.provider.instances()}
        assert after == before
        kinds = {e.kind for e in await platform.provider.events(since=last_event)}
        assert "instance.adopted" in kinds
        assert not kinds & {"instance.started", "instance.restarted", "instance.exited"}
        state = await platform.provider.current_state("r1", "web")
        assert (state.generation, state.routes, state.router_url) == (generation, table, url)
        assert during.errors == 0 and during.failures == 0
        assert during.by_version["v1"].requests > 0 and during.by_version["v2"].requests > 0

        steady = await run_load(LoadConfig(targets=(url,), rps=None, requests=500))
        assert steady.errors == 0
        assert {v: s.requests for v, s in steady.by_version.items()} == {"v1": 400, "v2": 100}
