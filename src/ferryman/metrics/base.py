"""Metric sources: what canary analysis reads, whatever stores the numbers.

A source answers a query over a time window with :class:`Sample` values, one
per label group. Queries are either a :class:`MetricQuery` (source-independent:
requests, errors, error rate, request rate or a latency quantile of a service,
grouped by labels such as ``version``) or a string in the source's own
language (PromQL for Prometheus)::

    query = MetricQuery(kind="error_rate", matchers={"service": "web"}, by=("version",))
    for sample in await source.query(query, window=60):
        print(sample.labels["version"], sample.value)

Error tree (all :class:`ferryman.errors.FerrymanError`)::

    MetricSourceError     the source failed or refused
     ├── BadQuery          the query is malformed or not supported by this source
     ├── NoData            the query matched nothing in the window
     └── SourceUnavailable the source did not answer (refused, timed out)
"""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from ferryman.errors import FerrymanError

QueryKind = Literal["requests", "errors", "error_rate", "request_rate", "latency"]


class MetricSourceError(FerrymanError):
    """A metric source failed or refused a query."""


class BadQuery(MetricSourceError):
    """The query is malformed or not supported by this source."""


class NoData(MetricSourceError):
    """The query matched no data in the window."""


class SourceUnavailable(MetricSourceError):
    """The source did not answer."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class MetricQuery(_Model):
    """A source-independent question about the routers' request metrics.

    Attributes:
        kind: ``requests`` and ``errors`` (5xx) count over the window,
            ``error_rate`` is errors per request, ``request_rate`` requests per
            second, ``latency`` the ``quantile`` of request duration in seconds.
        matchers: Exact label values the requests must have (``service``,
            ``version``, ``region``, ``zone``, ``code``).
        by: Labels to group by; one sample per group.
        quantile: For ``latency``, between 0 and 1.
    """

    kind: QueryKind
    matchers: dict[str, str] = Field(default_factory=dict)
    by: tuple[str, ...] = ("version",)
    quantile: float = Field(default=0.99, ge=0, le=1)


class Sample(_Model):
    """One value of a query result, with the labels of its group."""

    labels: dict[str, str]
    value: float


class Series(_Model):
    """Values of one label group over time: ``(unix time, value)`` points."""

    labels: dict[str, str]
    points: list[tuple[float, float]]


@runtime_checkable
class MetricSource(Protocol):
    """Anything that can answer metric queries over a window."""

    async def query(self, query: MetricQuery | str, window: float) -> list[Sample]:
        """Evaluate ``query`` over the last ``window`` seconds.

        Raises:
            BadQuery: The query is malformed or unsupported here.
            NoData: Nothing matched.
            SourceUnavailable: The source did not answer.
        """
        ...
