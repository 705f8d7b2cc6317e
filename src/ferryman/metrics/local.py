"""The ``local`` metric source: reads the routers' own counters, no extra process.

Each router keeps a per-second history of its counters and answers
``/_ferryman/stats?window=S`` with what changed in the last ``S`` seconds; this
source sums those answers over every router the agent runs, in every
environment (a query narrows to one with the ``environment`` matcher).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from ferryman.metrics.base import BadQuery, MetricQuery, NoData, Sample, SourceUnavailable
from ferryman.metrics.quantile import bucket_quantile

_LABELS = ("environment", "region", "zone", "service", "version", "code")


class LocalMetrics:
    """Metric source over the local agent's routers.

    Args:
        agent_url: The agent's API, e.g. ``http://127.0.0.1:7480``.
        timeout: Seconds to wait for each answer.
    """

    def __init__(self, agent_url: str, timeout: float = 5.0) -> None:
        self.agent_url = agent_url.rstrip("/")
        self.timeout = timeout

    async def query(self, query: MetricQuery | str, window: float) -> list[Sample]:
        """Evaluate a :class:`MetricQuery` over the last ``window`` seconds.

        Raises:
            BadQuery: ``query`` is a string, or groups by a label routers do not have.
            NoData: No request matched in the window.
            SourceUnavailable: The agent or a router did not answer.
        """
        if isinstance(query, str):
            raise BadQuery(
                f"the local source answers MetricQuery only, not {query!r}"
                " (PromQL needs the prometheus source)"
            )
        unknown = sorted((set(query.by) | set(query.matchers)) - set(_LABELS))
        if unknown:
            raise BadQuery(f"unknown label {', '.join(unknown)}; routers have {', '.join(_LABELS)}")
        if window <= 0:
            raise BadQuery(f"window must be > 0 seconds, got {window:g}")
        series = await self._series(window)
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for one in series:
            labels = one["labels"]
            if all(labels.get(k) == v for k, v in query.matchers.items()):
                groups.setdefault(tuple(labels[k] for k in query.by), []).append(one)
        if not groups:
            matched = query.matchers or "anything"
            raise NoData(f"no requests matched {matched} in the last {window:g}s")
        return [
            Sample(labels=dict(zip(query.by, key, strict=True)), value=_value(query, rows, window))
            for key, rows in sorted(groups.items())
        ]

    async def _series(self, window: float) -> list[dict[str, Any]]:
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            try:
                environments = (await client.get(f"{self.agent_url}/v1/environments")).json()
                answers = await asyncio.gather(
                    *(
                        client.get(f"{url}/_ferryman/stats", params={"window": str(window)})
                        for routers in environments.values()
                        for url in routers.values()
                    )
                )
            except httpx.HTTPError as error:
                raise SourceUnavailable(
                    f"local metrics: {type(error).__name__}: {error or 'no answer'}"
                ) from None
        bounds: list[float] = []
        found: list[dict[str, Any]] = []
        for answer in answers:
            body = answer.json()
            bounds = body["bounds"]
            for one in body["series"]:
                found.append({**one, "bounds": bounds})
        return found


def _value(query: MetricQuery, rows: list[dict[str, Any]], window: float) -> float:
    requests: int = sum(r["count"] for r in rows)
    errors: int = sum(r["count"] for r in rows if r["labels"]["code"].startswith("5"))
    if query.kind == "requests":
        return float(requests)
    if query.kind == "errors":
        return float(errors)
    if query.kind == "error_rate":
        return errors / requests if requests else 0.0
    if query.kind == "request_rate":
        return requests / window
    bounds: list[float] = rows[0]["bounds"]
    buckets = [sum(r["buckets"][i] for r in rows) for i in range(len(bounds) + 1)]
    return bucket_quantile(query.quantile, bounds, buckets)
