"""Route tables: validation messages and the version each request gets."""

from __future__ import annotations

from collections import Counter

import pytest

from ferryman.platform.models import Mirror, RouteRule, RouteTable
from ferryman.platform.routes import Chooser, RouteError, check_table, schedule, user_bucket


def table(**kwargs: object) -> RouteTable:
    return RouteTable.model_validate({"service": "web", "weights": {"v1": 100}, **kwargs})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"weights": {"v1": 90, "v2": 20}}, "weights must sum to 100, got 110 (v1=90, v2=20)"),
        ({"weights": {"v1": 110, "v2": -10}}, "weights are percents 0..100, got v1=110, v2=-10"),
        ({"weights": {}}, "weights must sum to 100, got 0 (no versions)"),
        ({"rules": [{"version": "v2"}]}, "rules[0]: set exactly one of header, cookie or buckets"),
        (
            {"rules": [{"version": "v2", "header": "X-Beta", "cookie": "beta", "equals": "1"}]},
            "got header, cookie",
        ),
        ({"rules": [{"version": "v2", "cookie": "beta"}]}, "needs a name and 'equals'"),
        ({"rules": [{"version": "v2", "buckets": 10001}]}, "buckets is 0..10000, got 10001"),
        ({"rules": [{"version": "v2", "buckets": 5, "equals": "x"}]}, "'equals' applies to"),
        ({"mirror": {"version": "v1", "percent": 150}}, "mirror.percent is 0..100, got 150"),
    ],
)
def test_bad_tables_get_one_line_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(RouteError) as caught:
        check_table(table(**kwargs))
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_every_named_version_must_be_running() -> None:
    bad = table(
        rules=[{"version": "v3", "header": "X-Beta", "equals": "1"}],
        mirror={"version": "v4", "percent": 5},
    )
    with pytest.raises(RouteError, match=r"to v3, v4: no running instance \(running versions: v1"):
        check_table(bad, running={"v1"})
    check_table(bad, running={"v1", "v3", "v4"})


def test_the_simplest_table_is_valid_and_names_its_versions() -> None:
    simple = RouteTable(service="web", weights={"v1": 100})
    check_table(simple, running={"v1"})
    assert simple.versions() == {"v1"}


def test_a_weighted_split_is_exact_over_whole_cycles() -> None:
    chooser = Chooser(table(weights={"v1": 95, "v2": 5}))
    picks = Counter(chooser.choose({}, {}) for _ in range(100_000))
    assert picks == {"v1": 95_000, "v2": 5_000}
    assert schedule({"v1": 50, "v2": 50, "v3": 0}) in (("v1", "v2"), ("v2", "v1"))


def test_rules_are_tried_in_order_before_the_weights() -> None:
    chooser = Chooser(
        table(
            weights={"v1": 100},
            rules=[
                RouteRule(version="v2", header="X-Beta", equals="yes"),
                RouteRule(version="v3", cookie="group", equals="b"),
                RouteRule(version="v4", buckets=10_000),
            ],
        )
    )
    assert chooser.choose({"X-Beta": "yes"}, {"group": "b"}) == "v2"
    assert chooser.choose({"X-Beta": "no"}, {"group": "b"}) == "v3"
    assert chooser.choose({"X-User-Id": "u1"}, {}) == "v4"
    assert chooser.choose({}, {"group": "a"}) == "v1"


def test_buckets_are_stable_and_spread_evenly() -> None:
    assert user_bucket("user-42") == user_bucket("user-42")
    buckets = [user_bucket(f"user-{i}") for i in range(20_000)]
    assert all(0 <= b < 10_000 for b in buckets)
    below = sum(1 for b in buckets if b < 1_000)
    assert 1_700 < below < 2_300  # 10 % of users, give or take sampling noise


def test_a_user_never_flips_while_the_percentage_grows() -> None:
    users = [f"user-{i}" for i in range(2_000)]
    seen: dict[str, str] = {}
    for buckets in (0, 100, 500, 2_500, 5_000, 10_000):
        chooser = Chooser(
            table(weights={"v1": 100}, rules=[RouteRule(version="v2", buckets=buckets)])
        )
        for user in users:
            version = chooser.choose({"X-User-Id": user}, {})
            assert not (seen.get(user) == "v2" and version == "v1"), user
            seen[user] = version
        share = sum(1 for v in seen.values() if v == "v2") / len(users)
        assert abs(share - buckets / 10_000) < 0.04
    assert set(seen.values()) == {"v2"}


def test_mirroring_copies_the_exact_share_evenly() -> None:
    chooser = Chooser(table(mirror=Mirror(version="v2", percent=2.5)))
    copies = [chooser.mirror_to() for _ in range(10_000)]
    assert copies.count("v2") == 250
    assert copies[:40].count("v2") == 1
    assert Chooser(table()).mirror_to() is None
