"""A router's request counters and latency histograms, now and over a recent window.

Counters are keyed by ``(service, version, zone, code)``. Once a second the
router takes a snapshot, so :meth:`RouterStats.window` can answer "what
happened in the last 60 s" without any other process; :meth:`render` writes
the Prometheus text exposition format.
"""

from __future__ import annotations

import bisect
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
HISTORY_S = 3600
Key = tuple[str, str, str, str]  # service, version, zone, code


@dataclass
class Series:
    """Requests of one label set: count, latency histogram (per bound, not cumulative), sum."""

    count: int = 0
    buckets: list[int] = field(default_factory=lambda: [0] * (len(BOUNDS) + 1))
    total_seconds: float = 0.0

    def copy(self) -> Series:
        """An independent copy."""
        return Series(self.count, list(self.buckets), self.total_seconds)

    def minus(self, earlier: Series | None) -> Series:
        """What was added since ``earlier``."""
        if earlier is None:
            return self.copy()
        return Series(
            self.count - earlier.count,
            [a - b for a, b in zip(self.buckets, earlier.buckets, strict=True)],
            self.total_seconds - earlier.total_seconds,
        )


def _labels(pairs: dict[str, str]) -> str:
    inner = ",".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in pairs.items()
    )
    return "{" + inner + "}"


class RouterStats:
    """Counts every request a router answered.

    Args:
        environment: Added as the ``environment`` label.
        region: Added as the ``region`` label.
    """

    def __init__(self, environment: str, region: str) -> None:
        self.environment = environment
        self.region = region
        self.series: dict[Key, Series] = {}
        self._history: deque[tuple[float, dict[Key, Series]]] = deque()

    def observe(
        self,
        service: str,
        version: str,
        zone: str,
        code: int | str,
        seconds: float,
        count: int = 1,
    ) -> None:
        """Count ``count`` answered requests that took ``seconds`` each."""
        key = (service, version, zone, str(code))
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = Series()
        series.count += count
        series.buckets[bisect.bisect_left(BOUNDS, seconds)] += count
        series.total_seconds += seconds * count

    def snapshot(self, now: float | None = None) -> None:
        """Remember the counters as they are now (called once a second)."""
        now = time.time() if now is None else now
        self._history.append((now, {k: s.copy() for k, s in self.series.items()}))
        while self._history and self._history[0][0] < now - HISTORY_S:
            self._history.popleft()

    def window(self, seconds: float, now: float | None = None) -> dict[Key, Series]:
        """Requests answered in the last ``seconds`` (since the router started, if sooner)."""
        now = time.time() if now is None else now
        start: dict[Key, Series] = {}
        for taken, counters in self._history:
            if taken > now - seconds:
                break
            start = counters
        deltas = {key: s.minus(start.get(key)) for key, s in self.series.items()}
        return {key: s for key, s in deltas.items() if s.count}

    def window_json(self, seconds: float) -> dict[str, Any]:
        """:meth:`window` as JSON: a list of series with their labels."""
        return {
            "environment": self.environment,
            "region": self.region,
            "window_seconds": seconds,
            "bounds": list(BOUNDS),
            "series": [
                {
                    "labels": self._label_map(key),
                    "count": s.count,
                    "buckets": s.buckets,
                    "sum": s.total_seconds,
                }
                for key, s in sorted(self.window(seconds).items())
            ],
        }

    def _label_map(self, key: Key) -> dict[str, str]:
        service, version, zone, code = key
        return {
            "environment": self.environment,
            "region": self.region,
            "zone": zone,
            "service": service,
            "version": version,
            "code": code,
        }

    def render(self) -> list[str]:
        """The counters and histograms in Prometheus text format, one line each."""
        lines = [
            "# HELP ferryman_http_requests_total Requests answered by the router.",
            "# TYPE ferryman_http_requests_total counter",
        ]
        items = sorted(self.series.items())
        for key, s in items:
            lines.append(f"ferryman_http_requests_total{_labels(self._label_map(key))} {s.count}")
        lines += [
            "# HELP ferryman_http_request_duration_seconds Time to answer a request.",
            "# TYPE ferryman_http_request_duration_seconds histogram",
        ]
        for key, s in items:
            base = self._label_map(key)
            cumulative = 0
            for bound, n in zip((*BOUNDS, float("inf")), s.buckets, strict=True):
                cumulative += n
                le = "+Inf" if bound == float("inf") else repr(bound)
                labels = _labels({**base, "le": le})
                lines.append(f"ferryman_http_request_duration_seconds_bucket{labels} {cumulative}")
            labels = _labels(base)
            lines.append(f"ferryman_http_request_duration_seconds_sum{labels} {s.total_seconds}")
            lines.append(f"ferryman_http_request_duration_seconds_count{labels} {s.count}")
        return lines


def gauge_lines(name: str, help_text: str, rows: list[tuple[dict[str, str], float]]) -> list[str]:
    """A gauge family in Prometheus text format."""
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
    lines += [f"{name}{_labels(labels)} {value:g}" for labels, value in rows]
    return lines
