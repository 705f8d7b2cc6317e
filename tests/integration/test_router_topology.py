"""The full-size local platform: 3 regions × 3 zones × 2 replicas, every one routed and healthy."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import httpx
import pytest

from ferryman.platform.models import RouteTable
from ferryman.testing.platform import LocalPlatform
from ferryman.traffic import LoadConfig, run_load

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

REGIONS = ("eu-west", "us-east", "ap-south")
ZONES = ("a", "b", "c")


async def test_three_regions_of_three_zones_serve_from_every_instance(tmp_path: Path) -> None:
    async with LocalPlatform(tmp_path) as platform:
        await asyncio.gather(
            *(
                platform.deploy(region, f"{region}-{zone}", "v1", replicas=2, within=120)
                for region in REGIONS
                for zone in ZONES
            )
        )
        for region in REGIONS:
            await platform.route(region, RouteTable(service="web", weights={"v1": 100}))
        routers = await platform.provider.routers()
        assert sorted(routers) == sorted(REGIONS)
        assert len(set(routers.values())) == 3

        stats = await run_load(
            LoadConfig(targets=tuple(routers.values()), rps=None, requests=1800, concurrency=24)
        )
        assert stats.errors == 0 and stats.by_version["v1"].requests == 1800

        instances = [i for i in await platform.provider.instances() if i.state == "healthy"]
        assert len(instances) == 18
        served: Counter[str] = Counter()
        async with httpx.AsyncClient() as client:
            for region, url in routers.items():
                metrics = (await client.get(f"{url}/metrics")).text
                for line in metrics.splitlines():
                    if line.startswith("ferryman_http_requests_total{"):
                        assert f'region="{region}"' in line
                        zone = line.split('zone="', 1)[1].split('"', 1)[0]
                        served[zone] += int(line.rsplit(" ", 1)[1])
                up = [ln for ln in metrics.splitlines() if ln.startswith("ferryman_instance_up{")]
                assert len(up) == 6 and all(ln.endswith(" 1") for ln in up)
        assert sorted(served) == sorted(f"{r}-{z}" for r in REGIONS for z in ZONES)
        assert sum(served.values()) == 1800
        assert min(served.values()) == 200  # round-robin over 6 instances, 600 per region
