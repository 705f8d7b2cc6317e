"""Counter totals per version, as they read now: the routers' and the services' own.

Canary analysis and experiments difference *totals* between two looks rather
than asking for a window, so consecutive looks neither overlap nor leave gaps
whatever the timing of the caller::

    await router_totals(source, {"environment": "prod", "service": "web"})
    # {"v1": (120345.0, 71.0), "v2": (6020.0, 2.0)}       requests, 5xx errors
    await service_totals(source, "shop_conversions_total", {"service": "checkout"})
    # {"v1": 803.0, "v2": 97.0}

The ``local`` source reads the routers' own counters and the instances'
``/metrics`` through the agent (``/v1/metrics/services``); ``prometheus`` sums
the same series with PromQL.
"""

from __future__ import annotations

import re

import httpx

from ferryman.metrics.base import MetricQuery, NoData, SourceUnavailable
from ferryman.metrics.local import LocalMetrics
from ferryman.metrics.prometheus import REQUESTS, PrometheusMetrics

SINCE_START = 10 * 365 * 24 * 3600.0
"""A window longer than any router has run: the local source then answers totals."""

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

_SERVER_ERROR = 'code=~"5.."'

Source = LocalMetrics | PrometheusMetrics


def _selector(matchers: dict[str, str], extra: str = "") -> str:
    parts = [f'{k}="{_escape(v)}"' for k, v in sorted(matchers.items())]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


async def router_totals(source: Source, matchers: dict[str, str]) -> dict[str, tuple[float, float]]:
    """Requests and server errors (5xx) answered per version, since the routers started.

    Args:
        source: The local source or Prometheus.
        matchers: Label values the requests must have (``environment``, ``service``…).

    Raises:
        MetricSourceError: The source failed or refused.
    """
    if isinstance(source, PrometheusMetrics):
        every = f"sum by (version) ({REQUESTS}{_selector(matchers)})"
        failed = f"sum by (version) ({REQUESTS}{_selector(matchers, _SERVER_ERROR)})"
        requests = await _prometheus(source, every)
        errors = await _prometheus(source, failed)
    else:
        requests = await _local(source, MetricQuery(kind="requests", matchers=matchers))
        errors = await _local(source, MetricQuery(kind="errors", matchers=matchers))
    return {version: (count, errors.get(version, 0.0)) for version, count in requests.items()}


async def service_totals(source: Source, name: str, matchers: dict[str, str]) -> dict[str, float]:
    """A counter of the services' own ``/metrics`` (e.g. conversions), summed per version.

    Raises:
        MetricSourceError: The source failed or refused.
    """
    if isinstance(source, PrometheusMetrics):
        return await _prometheus(source, f"sum by (version) ({name}{_selector(matchers)})")
    url = f"{source.agent_url}/v1/metrics/services"
    try:
        async with httpx.AsyncClient(timeout=source.timeout) as client:
            answer = await client.get(url)
            answer.raise_for_status()
    except httpx.HTTPError as error:
        raise SourceUnavailable(f"local service metrics: {type(error).__name__}: {error}") from None
    return sum_counter(answer.text, name, matchers)


def sum_counter(text: str, name: str, matchers: dict[str, str]) -> dict[str, float]:
    """Sum the samples of counter ``name`` in a Prometheus text exposition, per ``version``.

    Args:
        text: The exposition (``# HELP``/``# TYPE`` lines are skipped).
        name: The counter's name.
        matchers: Label values a sample must have to count.
    """
    totals: dict[str, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line.strip())
        if match is None or match.group(1) != name:
            continue
        labels = {k: _unescape(v) for k, v in _LABEL.findall(match.group(2) or "")}
        if any(labels.get(k) != v for k, v in matchers.items()):
            continue
        try:
            value = float(match.group(3))
        except ValueError:
            continue
        version = labels.get("version", "")
        totals[version] = totals.get(version, 0.0) + value
    return totals


def _unescape(value: str) -> str:
    return value.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")


async def _prometheus(source: PrometheusMetrics, promql: str) -> dict[str, float]:
    try:
        samples = await source.instant(promql)
    except NoData:
        return {}
    return {s.labels.get("version", ""): s.value for s in samples}


async def _local(source: LocalMetrics, query: MetricQuery) -> dict[str, float]:
    try:
        samples = await source.query(query, SINCE_START)
    except NoData:
        return {}
    return {s.labels.get("version", ""): s.value for s in samples}
