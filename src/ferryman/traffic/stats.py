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


def is_error(status: int | None) -> bool:
    """Whether an answer counts as an error: no answer at all, or anything but 2xx and 3xx."""
    return status is None or not 200 <= status < 400


@dataclass
class VersionStats:
    """Answers from one version (or ``-`` when no router named one).

    Attributes:
        requests: Answers counted (requests that got none count too, under ``-``).
        errors: Answers that are not 2xx or 3xx, and requests that got no answer.
        client_errors: 4xx answers. The generator asks only for what must exist, so
            every one is unexpected: a misroute, a missing service, a bad rule.
        server_errors: 5xx answers.
        latencies: Seconds each request took.
    """

    requests: int = 0
    errors: int = 0
    client_errors: int = 0
    server_errors: int = 0
    latencies: list[float] = field(default_factory=list)

    def add(self, status: int | None, seconds: float) -> None:
        """Count one answer with HTTP ``status`` (None: no answer at all)."""
        self.requests += 1
        self.errors += is_error(status)
        if status is not None:
            self.client_errors += 400 <= status < 500
            self.server_errors += status >= 500
        self.latencies.append(seconds)

    def merge(self, other: VersionStats) -> None:
        """Add another count of the same version to this one."""
        self.requests += other.requests
        self.errors += other.errors
        self.client_errors += other.client_errors
        self.server_errors += other.server_errors
        self.latencies += other.latencies

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

    def add(self, version: str, status: int | None, seconds: float) -> None:
        """Count one answer with HTTP ``status`` (None: no answer at all)."""
        stats = self.by_version.get(version)
        if stats is None:
            stats = self.by_version[version] = VersionStats()
        stats.add(status, seconds)

    def merge(self, other: LoadStats) -> None:
        """Add another run's counts to this one (elapsed times add up)."""
        for version, seen in other.by_version.items():
            self.by_version.setdefault(version, VersionStats()).merge(seen)
        self.failures += other.failures
        self.late += other.late
        self.elapsed += other.elapsed

    @property
    def requests(self) -> int:
        """Answers of every version."""
        return sum(s.requests for s in self.by_version.values())

    @property
    def errors(self) -> int:
        """Errors of every version: not 2xx or 3xx, or no answer at all."""
        return sum(s.errors for s in self.by_version.values())

    @property
    def client_errors(self) -> int:
        """4xx answers of every version (all unexpected)."""
        return sum(s.client_errors for s in self.by_version.values())

    @property
    def server_errors(self) -> int:
        """5xx answers of every version."""
        return sum(s.server_errors for s in self.by_version.values())

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
            f" errors {self.errors} ({100 * self.errors / max(self.requests, 1):.2f}%):"
            f" 5xx {self.server_errors}, unexpected 4xx {self.client_errors},"
            f" no answer {self.failures}; late {self.late}"
        ]
        for version, s in sorted(self.by_version.items()):
            share = 100 * s.requests / max(self.requests, 1)
            errors = 100 * s.error_rate
            out.append(
                f"  {version:<12} {s.requests:>8} ({share:5.1f}%)  errors {errors:5.2f}%"
                f"  4xx {s.client_errors:>5}"
                f"  p50 {1000 * s.p(50):6.1f}ms  p90 {1000 * s.p(90):6.1f}ms"
                f"  p99 {1000 * s.p(99):6.1f}ms"
            )
        return out
