"""Metric sources without servers: PromQL translation, quantiles, router counters, relabelling."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

import ferryman.metrics as metrics_package
import ferryman.traffic as traffic_package
from ferryman.devstack import prometheus
from ferryman.errors import DevStackError
from ferryman.metrics import BadQuery, LocalMetrics, MetricQuery, SourceUnavailable, to_promql
from ferryman.metrics.quantile import bucket_quantile
from ferryman.providers.local.relabel import add_labels, comments
from ferryman.providers.local.stats import BOUNDS, RouterStats
from ferryman.testing import free_port


def test_queries_translate_to_promql_over_the_window() -> None:
    q = MetricQuery(kind="error_rate", matchers={"service": "web"}, by=("version",))
    assert to_promql(q, 60) == (
        '(sum by (version) (increase(ferryman_http_requests_total{service="web",code=~"5.."}[60s]))'
        ' or sum by (version) (increase(ferryman_http_requests_total{service="web"}[60s])) * 0)'
        ' / sum by (version) (increase(ferryman_http_requests_total{service="web"}[60s]))'
    )
    latency = MetricQuery(kind="latency", quantile=0.99, matchers={"version": 'a"b'}, by=())
    assert to_promql(latency, 30.4) == (
        "histogram_quantile(0.99, sum by (le) (rate("
        'ferryman_http_request_duration_seconds_bucket{version="a\\"b"}[30s])))'
    )


def test_bucket_quantiles_interpolate_like_prometheus() -> None:
    bounds = [0.1, 0.2, 0.4]
    assert bucket_quantile(0.5, bounds, [0, 10, 0, 0]) == pytest.approx(0.15)
    assert bucket_quantile(0.25, bounds, [10, 10, 10, 10]) == pytest.approx(0.1)
    assert bucket_quantile(0.99, bounds, [0, 0, 0, 5]) == 0.4
    assert bucket_quantile(0.5, bounds, [0, 0, 0, 0]) == 0.0


def test_router_stats_count_per_label_set_and_over_a_window() -> None:
    stats = RouterStats("prod", "r1")
    stats.observe("web", "v1", "a", 200, 0.003)
    stats.snapshot(now=100.0)
    stats.observe("web", "v1", "a", 200, 0.003)
    stats.observe("web", "v2", "a", 500, 2.0)
    assert {k: s.count for k, s in stats.window(2.5, now=103.0).items()} == {
        ("web", "v1", "a", "200"): 1,
        ("web", "v2", "a", "500"): 1,
    }
    assert sum(s.count for s in stats.window(5, now=200.0).values()) == 2
    assert sum(s.count for s in stats.window(500, now=200.0).values()) == 3
    lines = stats.render()
    labels = 'environment="prod",region="r1",zone="a",service="web",version="v2",code="500"'
    assert f"ferryman_http_requests_total{{{labels}}} 1" in lines
    buckets = [ln for ln in lines if "_bucket{" in ln and 'version="v1"' in ln]
    assert len(buckets) == len(BOUNDS) + 1
    assert buckets[1].endswith('le="0.0025"} 0') and buckets[2].endswith('le="0.005"} 2')
    assert buckets[-1].endswith('le="+Inf"} 2')


def test_instance_metrics_get_their_origin_labels() -> None:
    text = [
        "# HELP shop_conversions_total Conversions.",
        "# TYPE shop_conversions_total counter",
        "shop_conversions_total 3",
        'shop_requests_total{path="/buy",version="mine"} 7 1700000000',
        "",
        "not a sample!",
    ]
    assert add_labels(text, {"version": "v2", "zone": "a"}) == [
        'shop_conversions_total{version="v2",zone="a"} 3',
        'shop_requests_total{path="/buy",version="mine",zone="a"} 7 1700000000',
    ]
    assert comments(text) == text[:2]


def test_the_scrape_config_discovers_routers_through_the_agent() -> None:
    config = json.loads(prometheus.scrape_config("http://127.0.0.1:7480", interval=2))
    assert config["global"]["scrape_interval"] == "2s"
    routers, services = config["scrape_configs"]
    assert routers["http_sd_configs"][0]["url"] == "http://127.0.0.1:7480/v1/scrape-targets"
    assert services["metrics_path"] == "/v1/metrics/services"
    assert services["static_configs"][0]["targets"] == ["127.0.0.1:7480"]


def test_a_missing_prometheus_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prometheus.shutil, "which", lambda name: None)
    monkeypatch.setattr(prometheus, "_DEBIAN", Path("/nonexistent/prometheus"))
    with pytest.raises(DevStackError, match=r"prometheus is not installed: `apt-get install"):
        prometheus.prometheus_binary()


@pytest.mark.parametrize("name", sorted(metrics_package._EXPORTS))
def test_each_public_metrics_name_is_the_object_of_the_module_it_claims(name: str) -> None:
    claimed = metrics_package._EXPORTS[name]
    assert getattr(metrics_package, name) is getattr(importlib.import_module(claimed), name)
    assert getattr(metrics_package, name).__module__ == claimed


def test_the_metrics_and_traffic_packages_list_what_they_export() -> None:
    assert sorted(metrics_package.__all__) == sorted(metrics_package._EXPORTS)
    for name in traffic_package.__all__:
        exported = getattr(traffic_package, name)
        assert exported.__module__.startswith("ferryman.traffic."), name


async def test_the_local_source_refuses_what_it_cannot_answer_before_asking_anyone() -> None:
    source = LocalMetrics(f"http://127.0.0.1:{free_port()}", timeout=1)
    with pytest.raises(BadQuery, match="answers MetricQuery only"):
        await source.query("sum(up)", window=60)
    with pytest.raises(BadQuery, match="unknown label pod; routers have environment"):
        await source.query(MetricQuery(kind="requests", by=("pod",)), window=60)
    with pytest.raises(BadQuery, match="window must be > 0 seconds, got 0"):
        await source.query(MetricQuery(kind="requests"), window=0)
    with pytest.raises(SourceUnavailable, match="local metrics: "):
        await source.query(MetricQuery(kind="requests"), window=60)
