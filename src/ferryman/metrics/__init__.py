"""Metric sources for canary analysis: the routers' own counters, or Prometheus."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ferryman._lazy import lazy_exports

_EXPORTS = {
    "BadQuery": "ferryman.metrics.base",
    "MetricQuery": "ferryman.metrics.base",
    "MetricSource": "ferryman.metrics.base",
    "MetricSourceError": "ferryman.metrics.base",
    "NoData": "ferryman.metrics.base",
    "Sample": "ferryman.metrics.base",
    "Series": "ferryman.metrics.base",
    "SourceUnavailable": "ferryman.metrics.base",
    "LocalMetrics": "ferryman.metrics.local",
    "PrometheusMetrics": "ferryman.metrics.prometheus",
    "to_promql": "ferryman.metrics.prometheus",
}

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

if TYPE_CHECKING:
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

__getattr__ = lazy_exports("ferryman.metrics", _EXPORTS)
