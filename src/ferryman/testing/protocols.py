"""Static proof that the implementations satisfy their Protocols, signatures and all.

``isinstance(x, Provider)`` against a runtime-checkable Protocol only checks
that methods of those names exist: a ``prepare`` taking other arguments, or
returning something else, would pass it. The functions below are never called;
``mypy --strict`` (part of ``make test``) checks each return against the
Protocol, parameter and return types included, so a drifting implementation
fails the build. Behaviour is proven elsewhere: the provider conformance suite
(:mod:`ferryman.testing.conformance`) and the metric-source tests against real
routers and a real Prometheus.
"""

from __future__ import annotations

from ferryman.metrics.base import MetricSource
from ferryman.metrics.local import LocalMetrics
from ferryman.metrics.prometheus import PrometheusMetrics
from ferryman.providers.base import Provider
from ferryman.providers.local import LocalProvider
from ferryman.testing.fake_provider import FakeProvider


def local_provider(provider: LocalProvider) -> Provider:
    """The agent's client is a :class:`Provider`."""
    return provider


def fake_provider(provider: FakeProvider) -> Provider:
    """The in-memory provider of the workflow tests is a :class:`Provider`."""
    return provider


def local_metrics(source: LocalMetrics) -> MetricSource:
    """The routers' counters are a :class:`MetricSource`."""
    return source


def prometheus_metrics(source: PrometheusMetrics) -> MetricSource:
    """Prometheus is a :class:`MetricSource`."""
    return source
