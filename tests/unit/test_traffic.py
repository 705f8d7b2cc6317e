"""The load generator's parts: pacing on a fake clock, percentiles, summaries."""

from __future__ import annotations

import pytest

from ferryman.traffic import LoadStats, Pacer, percentile


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_requests_are_due_on_a_fixed_grid_whatever_happened_before() -> None:
    clock = Clock()
    pacer = Pacer(200, clock=clock)
    assert pacer.due(0) == 1000.0
    clock.now = 1005.0  # a long stall does not shift the schedule
    assert pacer.due(10) == pytest.approx(1000.05)
    assert pacer.due(1000) == pytest.approx(1005.0)


async def test_a_late_request_is_reported_as_late_not_delayed() -> None:
    clock = Clock()
    pacer = Pacer(10, clock=clock)
    assert await pacer.next() == 0.0
    clock.now += 1.0
    assert await pacer.next() == pytest.approx(0.9)
    with pytest.raises(ValueError, match="rps must be > 0"):
        Pacer(0)


def test_percentiles_use_the_nearest_rank() -> None:
    values = [float(i) for i in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([], 99) == 0.0


def test_the_summary_names_each_version_with_its_share_and_errors() -> None:
    stats = LoadStats(elapsed=2.0)
    for _ in range(19):
        stats.add("v1", True, 0.002)
    stats.add("v2", False, 0.010)
    lines = stats.lines()
    assert lines[0] == "20 requests in 2.0s = 10/s, errors 1 (5.00%), late 0"
    assert lines[1].split()[:2] == ["v1", "19"] and "95.0%)" in lines[1]
    assert "errors 100.00%" in lines[2] and "p99   10.0ms" in lines[2]
