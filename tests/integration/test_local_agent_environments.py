"""Environments on one agent are separate, even where their regions share a name.

The shop's ``staging`` and ``prod`` both have a region ``eu-west``. Each
environment gets its own instances, route tables, generations and router;
this is checked with real requests through each environment's router and with
the agent's event log.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import httpx
import pytest

from ferryman.platform.models import RouteTable
from ferryman.providers.local import LocalProvider
from ferryman.testing.platform import LocalPlatform

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

REGION = "eu-west"


async def ready(provider: LocalProvider, version: str, within: float = 60) -> None:
    """Wait until every instance of ``web`` ``version`` in zone ``a`` answers its health check."""
    deadline = asyncio.get_running_loop().time() + within
    while not (await provider.health(REGION, "a", "web", version)).ready:
        assert asyncio.get_running_loop().time() < deadline, f"{version} never became healthy"
        await asyncio.sleep(0.1)


async def served(url: str, n: int = 10) -> Counter[str]:
    """Which version answered each of ``n`` requests through a router."""
    seen: Counter[str] = Counter()
    async with httpx.AsyncClient() as client:
        for _ in range(n):
            answer = await client.get(url)
            assert answer.status_code == 200, answer.text
            seen[answer.text] += 1
    return seen


def environ(pid: int | None) -> dict[str, str]:
    """A process's environment variables."""
    assert pid is not None
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


async def test_two_environments_with_the_same_region_stay_apart(tmp_path: Path) -> None:
    async with LocalPlatform(tmp_path) as platform:
        staging, prod = platform.provider_for("staging"), platform.provider_for("prod")
        # The same key and request in both environments: each starts its own instances.
        same = platform.request(REGION, "a", "v1")
        first = await staging.prepare("release-1/prepare", same)
        other = await prod.prepare("release-1/prepare", same)
        assert {i.id for i in first}.isdisjoint(i.id for i in other)
        await staging.prepare("release-1/canary", platform.request(REGION, "a", "s2"))
        await prod.prepare("release-1/canary", platform.request(REGION, "a", "p2"))
        await asyncio.gather(
            ready(staging, "v1"), ready(staging, "s2"), ready(prod, "v1"), ready(prod, "p2")
        )
        assert environ(first[0].pid)["FERRYMAN_ENVIRONMENT"] == "staging"
        assert environ(other[0].pid)["FERRYMAN_ENVIRONMENT"] == "prod"

        s_gen = await staging.set_traffic(
            "t1", REGION, RouteTable(service="web", weights={"s2": 100})
        )
        p_gen = await prod.set_traffic("t1", REGION, RouteTable(service="web", weights={"p2": 100}))
        assert (s_gen, p_gen) == (1, 1)
        s_url, p_url = (await staging.routers())[REGION], (await prod.routers())[REGION]
        assert s_url != p_url
        assert await served(s_url) == {"s2": 10}
        assert await served(p_url) == {"p2": 10}
        assert await platform.provider.routers() == {}

        s_state = await staging.current_state(REGION, "web")
        p_state = await prod.current_state(REGION, "web")
        assert s_state.versions_by_zone == {"a": ["s2", "v1"]}
        assert p_state.versions_by_zone == {"a": ["p2", "v1"]}
        assert (s_state.router_url, p_state.router_url) == (s_url, p_url)

        # Retiring v1 in staging stops staging's v1 only; prod's keep serving.
        since = (await platform.provider.events())[-1].seq
        assert await staging.retire("r1", REGION, "a", "web", "v1") == 1
        stopped = [e for e in await platform.provider.events(since=since)]
        assert [e.instance for e in stopped if e.kind == "instance.stopped"] == [first[0].id]
        assert all(e.detail.startswith("staging/eu-west") for e in stopped)
        live = {i.id: i.state for i in await prod.instances()}
        assert live[other[0].id] == "healthy"
        assert {i.version for i in await prod.instances()} == {"v1", "p2"}
        await prod.set_traffic("t2", REGION, RouteTable(service="web", weights={"v1": 100}))
        assert await served(p_url) == {"v1": 10}
        assert await served(s_url) == {"s2": 10}

        routes = [e.detail for e in await platform.provider.events("routes.set")]
        assert routes == ["staging/eu-west web 1", "prod/eu-west web 1", "prod/eu-west web 2"]
        async with httpx.AsyncClient() as client:
            metrics = (await client.get(f"{p_url}/metrics")).text
        requests = [ln for ln in metrics.splitlines() if ln.startswith("ferryman_http_requests")]
        assert requests and all('environment="prod"' in ln for ln in requests)
        assert await platform.provider.environments() == {
            "prod": {REGION: p_url},
            "staging": {REGION: s_url},
        }


async def test_environment_names_are_checked(tmp_path: Path) -> None:
    async with LocalPlatform(tmp_path) as platform:
        bad = platform.provider_for("no/such env")
        with pytest.raises(Exception, match="environment 'no/such env' must be 1-63 letters"):
            await bad.current_state(REGION, "web")
