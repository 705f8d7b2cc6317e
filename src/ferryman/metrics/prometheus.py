"""The ``prometheus`` metric source: PromQL over the Prometheus HTTP API.

Instant queries (``/api/v1/query``) and range queries (``/api/v1/query_range``)
with a timeout; a :class:`MetricQuery` is translated to PromQL over the
routers' ``ferryman_http_*`` metrics::

    source = PrometheusMetrics("http://127.0.0.1:9090")
    await source.instant('sum(ferryman_http_requests_total{code=~"5.."})')
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from ferryman.metrics.base import (
    BadQuery,
    MetricQuery,
    MetricSourceError,
    NoData,
    Sample,
    Series,
    SourceUnavailable,
)

REQUESTS = "ferryman_http_requests_total"
DURATION = "ferryman_http_request_duration_seconds_bucket"
_SERVER_ERROR = 'code=~"5.."'


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _selector(matchers: dict[str, str], extra: str = "") -> str:
    parts = [f'{k}="{_escape(v)}"' for k, v in sorted(matchers.items())]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}"


def to_promql(query: MetricQuery, window: float) -> str:
    """The PromQL expression answering ``query`` over ``window`` seconds."""
    span = f"[{max(1, round(window))}s]"
    by = ", ".join(query.by)
    every = f"{REQUESTS}{_selector(query.matchers)}{span}"
    failed = f"{REQUESTS}{_selector(query.matchers, _SERVER_ERROR)}{span}"
    if query.kind == "requests":
        return f"sum by ({by}) (increase({every}))"
    if query.kind == "errors":
        return f"sum by ({by}) (increase({failed})) or sum by ({by}) (increase({every})) * 0"
    if query.kind == "error_rate":
        errors = f"(sum by ({by}) (increase({failed})) or sum by ({by}) (increase({every})) * 0)"
        return f"{errors} / sum by ({by}) (increase({every}))"
    if query.kind == "request_rate":
        return f"sum by ({by}) (rate({every}))"
    buckets = f"{DURATION}{_selector(query.matchers)}{span}"
    group = ", ".join((*query.by, "le"))
    return f"histogram_quantile({query.quantile:g}, sum by ({group}) (rate({buckets})))"


class PrometheusMetrics:
    """Metric source over a Prometheus server.

    Args:
        url: Base URL, e.g. ``http://127.0.0.1:9090``.
        timeout: Seconds a query may take (sent to Prometheus too).
    """

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    async def query(self, query: MetricQuery | str, window: float) -> list[Sample]:
        """Evaluate a :class:`MetricQuery` (or PromQL, where ``$window`` is replaced) now.

        Raises:
            BadQuery: Prometheus refused the expression.
            NoData: It matched nothing.
            SourceUnavailable: Prometheus did not answer in time.
        """
        if isinstance(query, MetricQuery):
            promql = to_promql(query, window)
        else:
            promql = query.replace("$window", f"{max(1, round(window))}s")
        return await self.instant(promql)

    async def instant(self, promql: str, at: float | None = None) -> list[Sample]:
        """An instant query; one sample per series (a scalar gives one unlabelled sample)."""
        params = {"query": promql, "timeout": f"{self.timeout:g}s"}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = await self._get("/api/v1/query", params, promql)
        kind, result = data["resultType"], data["result"]
        if kind == "scalar":
            return [Sample(labels={}, value=float(result[1]))]
        if kind != "vector":
            raise BadQuery(f"PromQL {promql!r} gives a {kind}, not an instant vector")
        if not result:
            raise NoData(f"PromQL {promql!r} matched no series")
        return [Sample(labels=r["metric"], value=float(r["value"][1])) for r in result]

    async def range(
        self, promql: str, start: float, end: float | None = None, step: float = 15
    ) -> list[Series]:
        """A range query from ``start`` to ``end`` (default now) every ``step`` seconds."""
        end = time.time() if end is None else end
        params = {
            "query": promql,
            "start": f"{start:.3f}",
            "end": f"{end:.3f}",
            "step": f"{step:g}",
            "timeout": f"{self.timeout:g}s",
        }
        data = await self._get("/api/v1/query_range", params, promql)
        if not data["result"]:
            raise NoData(f"PromQL {promql!r} matched no series between {start:.0f} and {end:.0f}")
        return [
            Series(labels=r["metric"], points=[(float(t), float(v)) for t, v in r["values"]])
            for r in data["result"]
        ]

    async def _get(self, path: str, params: dict[str, str], promql: str) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=self.timeout + 1) as client:
                answer = await client.get(self.url + path, params=params)
        except httpx.TimeoutException:
            raise SourceUnavailable(
                f"prometheus at {self.url} did not answer within {self.timeout:g}s"
            ) from None
        except httpx.HTTPError as error:
            raise SourceUnavailable(f"prometheus at {self.url} did not answer: {error}") from None
        try:
            body = answer.json()
        except ValueError:
            raise MetricSourceError(
                f"prometheus at {self.url} answered {answer.status_code} without JSON"
            ) from None
        if body.get("status") != "success":
            message = " ".join(str(body.get("error", "unknown error")).split())
            if body.get("errorType") in ("bad_data", "execution"):
                raise BadQuery(f"bad PromQL {promql!r}: {message}")
            if body.get("errorType") == "timeout":
                raise SourceUnavailable(f"PromQL {promql!r} timed out: {message}")
            raise MetricSourceError(f"prometheus refused {promql!r}: {message}")
        data: dict[str, Any] = body["data"]
        return data
