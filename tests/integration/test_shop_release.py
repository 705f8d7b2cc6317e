"""The shop released for real: a DAG build, then blue-green across zones and regions.

Real dev server, real agent and routers, real instances built from the shop's
repos. Staging is one region of three zones, released twice with traffic on
both services; prod is three regions × three zones, each zone with a router of
its own (``data-plane: zonal``).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from ferryman.demo import prepare_example
from ferryman.providers.local import LocalProvider
from ferryman.testing import AgentProcess

from .bluegreen_helpers import answered_by, traffic
from .release_helpers import plan_on, release

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ZONES = ["a", "b", "c"]


def commit(repo: Path, file: str, text: str) -> None:
    (repo / file).write_text(text)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid"]
    subprocess.run([*git, "commit", "-qam", f"change {file}"], cwd=repo, check=True)


async def answers(router: str, service: str) -> set[str]:
    async with httpx.AsyncClient(base_url=router, headers={"Host": service}, timeout=5) as http:
        replies = [await http.get("/") for _ in range(12)]
    assert all(reply.status_code == 200 for reply in replies)
    return {reply.json()["service"] + "@" + reply.headers["X-Ferryman-Zone"] for reply in replies}


async def test_staging_blue_green_with_traffic_on_both_services(
    dev_client: Client, agent: AgentProcess, ferryman_home: Path, tmp_path: Path
) -> None:
    spec = prepare_example(EXAMPLES / "shop", tmp_path / "shop")
    first = await release(dev_client, agent.url, plan_on(spec, "staging"))
    router = first.router_urls["eu-west"]
    assert await answers(router, "catalog") == {f"catalog@{z}" for z in ZONES}
    assert await answers(router, "checkout") == {f"checkout@{z}" for z in ZONES}

    provider = LocalProvider(agent.url, environment="staging")
    before = await provider.current_state("eu-west", "checkout")
    behaviour = spec.parent / "repos" / "checkout" / "config" / "behaviour.json"
    config = json.loads(behaviour.read_text())
    commit(
        behaviour.parent.parent, "config/behaviour.json", json.dumps({**config, "latency_ms": 1})
    )
    async with traffic(router, host="checkout") as seen:
        second = await release(dev_client, agent.url, plan_on(spec, "staging"))
        after = await provider.current_state("eu-west", "checkout")
        old, new = before.versions_by_zone["a"][0], after.versions_by_zone["a"][0]
        await answered_by(seen, new)
    assert second.status == "succeeded"
    assert old != new and after.versions_by_zone == {z: [new] for z in ZONES}
    assert seen.errors == 0 and seen.failures == 0
    assert set(seen.by_version) == {old, new}, "traffic crossed the switch"
    catalog = await provider.current_state("eu-west", "catalog")
    assert catalog.versions_by_zone == {z: [first.version] for z in ZONES}, "catalog unchanged"


async def test_prod_three_regions_by_three_zones(
    dev_client: Client, agent: AgentProcess, ferryman_home: Path, tmp_path: Path
) -> None:
    spec = prepare_example(EXAMPLES / "shop", tmp_path / "shop")
    result = await release(dev_client, agent.url, plan_on(spec, "prod"))
    assert result.status == "succeeded"
    assert set(result.router_urls) == {"us-east", "eu-west", "ap-south"}
    provider = LocalProvider(agent.url, environment="prod")
    running = [i for i in await provider.instances() if i.state != "stopped"]
    assert len(running) == 3 * 3 * 2 * 2, "3 regions × 3 zones × 2 services × 2 replicas"
    for region, router in result.router_urls.items():
        for service in ("catalog", "checkout"):
            assert await answers(router, service) == {f"{service}@{z}" for z in ZONES}, region
        zonal = await provider.zonal_state(region)
        assert zonal.front_url == router, "clients reach the region's front"
        assert [r.zone for r in zonal.zones] == ZONES
        served = {r.generation for r in zonal.zones}
        assert len(served) == 1 and zonal.switch is not None, f"{region}: {zonal.zones}"
        assert zonal.switch.phase == "committed" and served == {zonal.switch.generation}


async def test_staging_and_prod_share_a_region_name_but_nothing_else(
    dev_client: Client, agent: AgentProcess, ferryman_home: Path, tmp_path: Path
) -> None:
    spec = prepare_example(EXAMPLES / "shop", tmp_path / "shop")
    staging = await release(dev_client, agent.url, plan_on(spec, "staging", "s1"))
    prod_plan = plan_on(spec, "prod", "p1")
    eu_west = tuple(r for r in prod_plan.deploy.regions if r.name == "eu-west")
    prod_plan = prod_plan.model_copy(
        update={"deploy": prod_plan.deploy.model_copy(update={"regions": eu_west, "waves": ()})}
    )
    mark = max((e.seq for e in await LocalProvider(agent.url).events()), default=0)
    prod = await release(dev_client, agent.url, prod_plan)
    stopped = await LocalProvider(agent.url).events("instance.stopped", since=mark)
    assert stopped == [], "releasing prod stopped nothing of staging"
    staging_router, prod_router = staging.router_urls["eu-west"], prod.router_urls["eu-west"]
    assert staging_router != prod_router, "each environment's region has its own router"
    for router, version in ((staging_router, "s1"), (prod_router, "p1")):
        async with httpx.AsyncClient(base_url=router, headers={"Host": "catalog"}) as http:
            served = {(await http.get("/")).headers["X-Ferryman-Version"] for _ in range(12)}
        assert served == {version}, router
