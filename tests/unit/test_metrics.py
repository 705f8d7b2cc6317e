"""Metric sources without servers: PromQL translation, quantiles, router counters, relabelling."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ferryman.devstack import prometheus
from ferryman.errors import DevStackError
from ferryman.metrics import MetricQuery, to_promql
from ferryman.metrics.quantile import bucket_quantile
from ferryman.providers.local.relabel import add_labels, comments
from ferryman.providers.local.stats import BOUNDS, RouterStats


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


def test_the_public_names_of_metrics_and_traffic_resolve() -> None:
    import ferryman.metrics
    import ferryman.traffic

    for module in (ferryman.metrics, ferryman.traffic):
        assert all(getattr(module, name) is not None for name in module.__all__)
    assert isinstance(ferryman.metrics.LocalMetrics("http://x"), ferryman.metrics.MetricSource)
    assert isinstance(ferryman.metrics.PrometheusMetrics("http://x"), ferryman.metrics.MetricSource)
