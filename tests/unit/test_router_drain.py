"""A router lets requests already sent to withdrawn instances finish (``drain``), in-process.

The agent withdraws instances from the routers, asks each to drain them, then
stops them: a request in flight to an old instance at a retire is answered,
not cut (the failures a switch with no keep-warm delay used to show).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web

from ferryman.platform.models import RouteTable
from ferryman.providers.local.router import Router
from ferryman.providers.local.traffic import Backend, Routing
from ferryman.testing import free_port


@pytest.fixture
async def slow_instance() -> AsyncIterator[tuple[int, asyncio.Event, asyncio.Event]]:
    """An instance that says when a request arrived, and answers once released."""
    arrived, release = asyncio.Event(), asyncio.Event()

    async def answer(request: web.Request) -> web.Response:
        arrived.set()
        await release.wait()
        return web.Response(text="old")

    app = web.Application()
    app.router.add_get("/", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield port, arrived, release
    release.set()
    await runner.cleanup()


def routing(backends: tuple[Backend, ...]) -> Routing:
    table = RouteTable(service="web", weights={"v1": 100})
    return Routing("test", "eu-1", 1, {"web": table}, backends)


async def test_drain_waits_for_requests_in_flight_to_withdrawn_instances(
    slow_instance: tuple[int, asyncio.Event, asyncio.Event],
) -> None:
    port, arrived, release = slow_instance
    old = Backend("web-v1-a-1", "web", "v1", "a", port, "healthy", True)
    router = Router("test", "eu-1", "127.0.0.1", free_port())
    router.apply(routing((old,)))
    await router.start()
    try:
        async with httpx.AsyncClient(base_url=router.url, timeout=10) as http:
            pending = asyncio.create_task(http.get("/"))
            await arrived.wait()
            assert router.in_flight([old.id]) == 1
            router.apply(routing(()), new_table=False)  # withdrawn: no new request goes there
            assert await router.drain([old.id], within=0.05) == 1, "still answering: gave up"
            draining = asyncio.create_task(router.drain([old.id], within=5))
            await asyncio.sleep(0.05)
            assert not draining.done()
            release.set()
            assert await draining == 0
            answer = await pending
            assert answer.status_code == 200 and answer.text == "old"
            assert router.in_flight([old.id]) == 0
            assert await router.drain(["never-seen"], within=1) == 0
    finally:
        await router.close()
