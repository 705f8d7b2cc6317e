"""The haproxy traffic backend for real: split, rules, sticky buckets, swaps and metrics.

The same users are sent through a built-in router and through HAProxy with
the same bucket rule: each user lands on the same version on both, so a user
keeps their variant whichever backend routes them.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import httpx
import pytest

from ferryman.errors import ProviderError
from ferryman.metrics import LocalMetrics, MetricQuery, NoData, Sample
from ferryman.platform.models import Mirror, RouteRule, RouteTable
from ferryman.platform.routes import user_bucket
from ferryman.testing.platform import LocalPlatform
from ferryman.testing.waiting import eventually
from ferryman.traffic import LoadConfig, run_load

pytestmark = [pytest.mark.integration, pytest.mark.needs_haproxy, pytest.mark.timeout(180)]

R = "r1"


async def deploy_both(platform: LocalPlatform) -> None:
    await asyncio.gather(platform.deploy(R, "a", "v1", replicas=2), platform.deploy(R, "a", "v2"))


async def test_haproxy_splits_exactly_and_follows_rules(tmp_path: Path) -> None:
    async with LocalPlatform(tmp_path, traffic_backend="haproxy") as platform:
        await deploy_both(platform)
        first = await platform.route(R, RouteTable(service="web", weights={"v1": 90, "v2": 10}))
        url = await platform.router_url(R)
        stats = await run_load(LoadConfig(targets=(url,), rps=None, requests=2000, concurrency=8))
        assert stats.errors == 0
        # HAProxy's weighted round-robin: exact per cycle, within one request where it starts.
        assert set(stats.by_version) == {"v1", "v2"}
        assert abs(stats.by_version["v2"].requests - 200) <= 2

        rules = (
            RouteRule(version="v2", header="X-Beta", equals="yes"),
            RouteRule(version="v2", cookie="group", equals="canary"),
        )
        second = await platform.route(
            R, RouteTable(service="web", weights={"v1": 100}, rules=rules)
        )
        assert second == first + 1
        seen: Counter[tuple[str, str, str]] = Counter()
        async with httpx.AsyncClient() as client:
            for headers in ({"X-Beta": "yes"}, {"Cookie": "a=1; group=canary"}, {}):
                for _ in range(5):
                    answer = await client.get(url, headers=headers)
                    assert answer.status_code == 200
                    seen[
                        (
                            str(headers),
                            answer.headers["X-Ferryman-Version"],
                            answer.headers["X-Ferryman-Generation"],
                        )
                    ] += 1
        assert seen == {
            ("{'X-Beta': 'yes'}", "v2", str(second)): 5,
            ("{'Cookie': 'a=1; group=canary'}", "v2", str(second)): 5,
            ("{}", "v1", str(second)): 5,
        }

        mirrored = RouteTable(
            service="web", weights={"v1": 100}, mirror=Mirror(version="v2", percent=5)
        )
        with pytest.raises(ProviderError, match="haproxy traffic backend cannot mirror requests"):
            await platform.route(R, mirrored)
        assert (await platform.provider.current_state(R, "web")).generation == second

        source = LocalMetrics(platform.agent.url)

        async def all_counted() -> list[Sample]:
            # The agent reads HAProxy's counters once a second: 2000 split + 15 by the rules.
            try:
                counted = await source.query(MetricQuery(kind="requests"), window=600)
            except NoData:
                return []
            return counted if sum(s.value for s in counted) >= 2015 else []

        counted = await eventually(all_counted, what="HAProxy's counters to reach 2015")
        by_version = {s.labels["version"]: s.value for s in counted}
        # The load, plus 10 requests the rules sent to v2 and 5 they left to v1.
        load = {v: s.requests for v, s in stats.by_version.items()}
        assert by_version == {"v1": load["v1"] + 5.0, "v2": load["v2"] + 10.0}
        async with httpx.AsyncClient() as client:
            metrics = (await client.get(f"{url}/metrics")).text
        assert 'ferryman_http_requests_total{environment="default",region="r1"' in metrics


async def test_users_keep_their_variant_across_backends(tmp_path: Path) -> None:
    users = [f"user-{i}" for i in range(200)]
    rule = RouteRule(version="v2", buckets=3_000)
    table = RouteTable(service="web", weights={"v1": 100}, rules=(rule,))
    chosen: dict[str, dict[str, str]] = {}
    for backend in ("builtin", "haproxy"):
        async with LocalPlatform(tmp_path / backend, traffic_backend=backend) as platform:
            await deploy_both(platform)
            await platform.route(R, table)
            url = await platform.router_url(R)
            async with httpx.AsyncClient() as client:
                chosen[backend] = {
                    user: (await client.get(url, headers={"X-User-Id": user})).headers[
                        "X-Ferryman-Version"
                    ]
                    for user in users
                }
    expected = {user: "v2" if user_bucket(user) < 3_000 else "v1" for user in users}
    assert chosen["builtin"] == expected
    assert chosen["haproxy"] == expected
    assert 0 < sum(v == "v2" for v in expected.values()) < len(users)
