"""Metric sources for canary analysis: the routers' own counters, or Prometheus."""

from ferryman.metrics.base import (
    BadQuery,
    MetricQuery,
    MetricSource,
    MetricSourceError,
    NoData,
    Sample,
    Series,
    SourceUnavailable,
)
from ferryman.metrics.local import LocalMetrics
from ferryman.metrics.prometheus import PrometheusMetrics, to_promql

__all__ = [
    "BadQuery",
    "LocalMetrics",
    "MetricQuery",
    "MetricSource",
    "MetricSourceError",
    "NoData",
    "PrometheusMetrics",
    "Sample",
    "Series",
    "SourceUnavailable",
    "to_promql",
]
