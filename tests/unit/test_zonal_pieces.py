"""Pure pieces of the zonal data plane: the front's zone choice and a router's request log."""

from __future__ import annotations

from collections import Counter

from ferryman.platform.fronts import zone_order
from ferryman.platform.routes import user_bucket
from ferryman.providers.local.front import merge_metrics
from ferryman.providers.local.requestlog import RequestLog

ZONES = ("a", "b", "c")


def test_zone_order_is_stable_and_complete() -> None:
    for user in ("u1", "user-42", "ü"):
        order = zone_order(user, ZONES)
        assert sorted(order) == list(ZONES)
        assert zone_order(user, ZONES) == order
        assert zone_order(user, tuple(reversed(ZONES))) == order, "zone order given is irrelevant"


def test_users_spread_over_zones_and_canary_buckets_do_too() -> None:
    users = [f"user-{n}" for n in range(3000)]
    first = Counter(zone_order(u, ZONES)[0] for u in users)
    assert all(900 < first[z] < 1100 for z in ZONES), first
    canary = [u for u in users if user_bucket(u) < 1000]  # 10 % of users by bucket
    spread = Counter(zone_order(u, ZONES)[0] for u in canary)
    assert len(spread) == 3 and min(spread.values()) > len(canary) / 6, spread


def test_a_zone_going_away_moves_only_its_users() -> None:
    users = [f"user-{n}" for n in range(500)]
    for user in users:
        before = zone_order(user, ZONES)
        after = zone_order(user, ("a", "c"))
        if before[0] != "b":
            assert after[0] == before[0]
        else:
            assert after[0] == before[1]


def test_request_log_since_and_bound() -> None:
    log = RequestLog(capacity=3)
    for n, t in enumerate((1.0, 3.0, 2.0, 4.0)):
        log.add(t, "web", f"v{n}", 200, n, "a")
    assert len(log) == 3, "the oldest entry went"
    assert [e[0] for e in log.since(0.0)] == [2.0, 3.0, 4.0], "sorted by receipt"
    assert [e[0] for e in log.since(2.0)] == [3.0, 4.0]
    assert log.since(2.0, limit=1) == [(3.0, "web", "v1", 200, 1, "a")]


def test_merge_metrics_keeps_each_family_together() -> None:
    one = (
        '# HELP x X.\n# TYPE x counter\nx{zone="a"} 1\n# HELP y Y.\n# TYPE y gauge\ny{zone="a"} 2\n'
    )
    two = (
        '# HELP x X.\n# TYPE x counter\nx{zone="b"} 3\n# HELP y Y.\n# TYPE y gauge\ny{zone="b"} 4\n'
    )
    assert merge_metrics([one, two]).splitlines() == [
        "# HELP x X.",
        "# TYPE x counter",
        'x{zone="a"} 1',
        'x{zone="b"} 3',
        "# HELP y Y.",
        "# TYPE y gauge",
        'y{zone="a"} 2',
        'y{zone="b"} 4',
    ]
