"""The metric sources against real routers and a real Prometheus process (Debian package).

A good version and a bad one (30 % injected errors) split traffic 50/50; the
router's own counters, the ``local`` source and the ``prometheus`` source must
all tell the same error rate.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from ferryman.devstack.prometheus import PrometheusProcess
from ferryman.metrics import (
    BadQuery,
    LocalMetrics,
    MetricQuery,
    NoData,
    PrometheusMetrics,
    SourceUnavailable,
)
from ferryman.platform.models import RouteTable
from ferryman.testing import free_port
from ferryman.testing.platform import LocalPlatform
from ferryman.traffic import LoadConfig, LoadStats, run_load

pytestmark = [pytest.mark.integration, pytest.mark.needs_prometheus, pytest.mark.timeout(180)]


@dataclass
class Scene:
    platform: LocalPlatform
    prometheus: PrometheusProcess
    counted: dict[str, tuple[int, int]]  # version → (errors, requests) from the router
    client: LoadStats  # what the load generator itself sent and received


def router_counts(metrics: str) -> dict[str, tuple[int, int]]:
    """Errors and requests per version from a router's /metrics text."""
    counts: dict[str, tuple[int, int]] = {}
    for line in metrics.splitlines():
        if line.startswith("ferryman_http_requests_total{"):
            version = line.split('version="', 1)[1].split('"', 1)[0]
            code = line.split('code="', 1)[1].split('"', 1)[0]
            value = int(line.rsplit(" ", 1)[1])
            errors, requests = counts.get(version, (0, 0))
            counts[version] = (errors + value * code.startswith("5"), requests + value)
    return counts


async def scraped(source: PrometheusMetrics, promql: str, value: float) -> None:
    """Wait until Prometheus answers ``promql`` with ``value`` (it discovers targets in ~5 s)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            if (await source.instant(promql))[0].value == value:
                return
        except NoData:
            pass
        assert time.monotonic() < deadline, f"prometheus never answered {promql} = {value:g}"
        await asyncio.sleep(0.25)


@pytest.fixture(scope="module")
async def scene(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Scene]:
    root = tmp_path_factory.mktemp("prometheus")
    async with LocalPlatform(root) as platform:
        await asyncio.gather(
            platform.deploy("r1", "a", "good"),
            platform.deploy("r1", "a", "bad", env={"FIXTURE_ERROR_RATE": "0.3"}),
        )
        await platform.route("r1", RouteTable(service="web", weights={"good": 50, "bad": 50}))
        url = await platform.router_url("r1")
        prometheus = PrometheusProcess(root / "prom", free_port(), platform.agent.url, 1.0)
        await asyncio.to_thread(prometheus.start)
        try:
            source = PrometheusMetrics(prometheus.url)
            await scraped(source, 'up{job="ferryman-routers"}', 1.0)
            # Prometheus sees every series before most of the load, however late it scrapes:
            # increase() counts from a series' first sample, so the estimate then covers
            # 900 of the 1000 requests.
            stats = await run_load(LoadConfig(targets=(url,), rps=250, requests=100))
            assert stats.by_version["bad"].server_errors > 0
            await scraped(source, "sum(ferryman_http_requests_total)", 100.0)
            await run_load(LoadConfig(targets=(url,), rps=250, requests=900, seed=1), into=stats)
            async with httpx.AsyncClient() as client:
                counted = router_counts((await client.get(f"{url}/metrics")).text)
            assert sum(r for _, r in counted.values()) == 1000
            await scraped(source, "sum(ferryman_http_requests_total)", 1000.0)
            yield Scene(platform, prometheus, counted, stats)
        finally:
            await asyncio.to_thread(prometheus.stop)


async def test_both_sources_count_the_requests_and_5xx_the_client_saw(scene: Scene) -> None:
    client = scene.client
    assert (client.requests, client.failures, client.client_errors) == (1000, 0, 0)
    sent = {v: float(s.requests) for v, s in client.by_version.items()}
    failed = {v: float(s.server_errors) for v, s in client.by_version.items()}
    assert set(sent) == {"good", "bad"} and failed["good"] == 0 and failed["bad"] > 0

    local = LocalMetrics(scene.platform.agent.url)
    requests = await local.query(MetricQuery(kind="requests"), window=300)
    errors = await local.query(MetricQuery(kind="errors"), window=300)
    assert {s.labels["version"]: s.value for s in requests} == sent
    assert {s.labels["version"]: s.value for s in errors} == failed

    prometheus = PrometheusMetrics(scene.prometheus.url)
    totals = await prometheus.instant("sum by (version) (ferryman_http_requests_total)")
    server_errors = await prometheus.instant(
        'sum by (version) (ferryman_http_requests_total{code=~"5.."})'
    )
    assert {s.labels["version"]: s.value for s in totals} == sent
    assert {s.labels["version"]: s.value for s in server_errors} == {
        v: n for v, n in failed.items() if n
    }


async def test_prometheus_returns_the_error_rate_the_router_counted(scene: Scene) -> None:
    source = PrometheusMetrics(scene.prometheus.url)
    exact = await source.instant(
        'sum by (version) (ferryman_http_requests_total{code=~"5.."})'
        " / sum by (version) (ferryman_http_requests_total)"
    )
    by_version = {s.labels["version"]: s.value for s in exact}
    bad_errors, bad_requests = scene.counted["bad"]
    assert by_version == {"bad": bad_errors / bad_requests}
    estimated = await source.query(MetricQuery(kind="error_rate"), window=300)
    rates = {s.labels["version"]: s.value for s in estimated}
    assert rates["good"] == 0
    assert abs(rates["bad"] - bad_errors / bad_requests) < 0.05


async def test_the_local_source_counts_exactly_what_the_router_did(scene: Scene) -> None:
    source = LocalMetrics(scene.platform.agent.url)
    rates = await source.query(MetricQuery(kind="error_rate"), window=300)
    requests = await source.query(MetricQuery(kind="requests", by=()), window=300)
    bad_errors, bad_requests = scene.counted["bad"]
    assert {s.labels["version"]: s.value for s in rates} == {
        "good": 0.0,
        "bad": bad_errors / bad_requests,
    }
    assert [s.value for s in requests] == [1000.0]
    mine = MetricQuery(kind="requests", by=("environment",), matchers={"environment": "default"})
    assert [(s.labels, s.value) for s in await source.query(mine, window=300)] == [
        ({"environment": "default"}, 1000.0)
    ]
    latency = await source.query(MetricQuery(kind="latency", quantile=0.5), window=300)
    assert sorted(s.labels["version"] for s in latency) == ["bad", "good"]
    assert all(0 < s.value < 1 for s in latency)


async def test_instance_metrics_reach_prometheus_through_the_agent(scene: Scene) -> None:
    source = PrometheusMetrics(scene.prometheus.url)
    deadline = time.monotonic() + 30
    while True:
        samples = await source.instant("sum by (version) (fixture_requests_total)")
        values = {s.labels["version"]: s.value for s in samples}
        if values == {v: float(r) for v, (_, r) in scene.counted.items()}:
            break
        assert time.monotonic() < deadline, f"instance counters never matched: {values}"
        await asyncio.sleep(0.5)


async def test_bad_and_empty_queries_get_clear_errors(scene: Scene) -> None:
    source = PrometheusMetrics(scene.prometheus.url)
    with pytest.raises(BadQuery) as caught:
        await source.instant("sum(ferryman_http_requests_total{")
    assert str(caught.value).startswith("bad PromQL 'sum(ferryman_http_requests_total{': ")
    assert "\n" not in str(caught.value)
    with pytest.raises(NoData, match="matched no series"):
        await source.instant('ferryman_http_requests_total{version="nope"}')
    with pytest.raises(BadQuery, match="local source answers MetricQuery only"):
        await LocalMetrics(scene.platform.agent.url).query("up", window=60)
    series = await source.range("sum(ferryman_http_requests_total)", time.time() - 30, step=1)
    assert series[0].points[-1][1] == 1000
    with pytest.raises(SourceUnavailable, match="did not answer"):
        await PrometheusMetrics(f"http://127.0.0.1:{free_port()}", timeout=2).instant("up")
