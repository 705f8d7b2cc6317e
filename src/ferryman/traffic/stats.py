"""What a load run saw, per version: requests, errors and latency percentiles."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values`` by the nearest-rank method; 0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class VersionStats:
    """Answers from one version (or ``-`` when no router named one)."""

    requests: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)

    def add(self, ok: bool, seconds: float) -> None:
        """Count one answer."""
        self.requests += 1
        self.errors += 0 if ok else 1
        self.latencies.append(seconds)

    @property
    def error_rate(self) -> float:
        """Errors per request, 0 when there were none."""
        return self.errors / self.requests if self.requests else 0.0

    def p(self, q: float) -> float:
        """Latency percentile in seconds."""
        return percentile(self.latencies, q)


@dataclass
class LoadStats:
    """Every answer of a run, split by version, and how well the pacing kept up.

    Attributes:
        by_version: Answers per version (``X-Ferryman-Version``; ``-`` without one).
        failures: Requests that got no HTTP answer at all (counted as errors of ``-``).
        late: Requests sent more than 10 ms after their scheduled time.
        elapsed: Seconds from the first request sent to the last answer.
    """

    by_version: dict[str, VersionStats] = field(default_factory=dict)
    failures: int = 0
    late: int = 0
    elapsed: float = 0.0

    def add(self, version: str, ok: bool, seconds: float) -> None:
        """Count one answer."""
        stats = self.by_version.get(version)
        if stats is None:
            stats = self.by_version[version] = VersionStats()
        stats.add(ok, seconds)

    @property
    def requests(self) -> int:
        """Answers of every version."""
        return sum(s.requests for s in self.by_version.values())

    @property
    def errors(self) -> int:
        """Errors of every version."""
        return sum(s.errors for s in self.by_version.values())

    @property
    def rate(self) -> float:
        """Achieved requests per second."""
        return self.requests / self.elapsed if self.elapsed > 0 else 0.0

    def latencies(self) -> list[float]:
        """Latencies of every answer."""
        return [x for s in self.by_version.values() for x in s.latencies]

    def lines(self) -> list[str]:
        """A human summary: one line for the run, one per version."""
        out = [
            f"{self.requests} requests in {self.elapsed:.1f}s = {self.rate:.0f}/s,"
            f" errors {self.errors} ({100 * self.errors / max(self.requests, 1):.2f}%),"
            f" late {self.late}"
        ]
        for version, s in sorted(self.by_version.items()):
            share = 100 * s.requests / max(self.requests, 1)
            errors = 100 * s.error_rate
            out.append(
                f"  {version:<12} {s.requests:>8} ({share:5.1f}%)  errors {errors:5.2f}%"
                f"  p50 {1000 * s.p(50):6.1f}ms  p90 {1000 * s.p(90):6.1f}ms"
                f"  p99 {1000 * s.p(99):6.1f}ms"
            )
        return out
