"""The step vocabulary: recorded state, restore steps, the skew check, descriptions."""

from __future__ import annotations

from ferryman.deploy.steps import (
    AwaitHealthy,
    KeepWarm,
    Prepare,
    PreviewMatch,
    Recorded,
    Retire,
    SetRoutes,
    describe,
    only,
    restore_steps,
    skew,
    split,
)
from ferryman.platform.models import Mirror, RouteRule, RouteTable, ServiceState

from .conftest import LAUNCH, V1_LAUNCH, ZONES, serving, target

PREPARED = [Prepare(version="v2", launch=LAUNCH), AwaitHealthy(version="v2", deadline_s=1)]
V1 = SetRoutes(routes=only("web", "v1"), label="restore")


def test_is_live_needs_routes_and_every_zone() -> None:
    assert serving("v2").is_live("v2", ZONES)
    assert not serving("v2").is_live("v2", (*ZONES, "c"))
    assert not serving("v2", also_running=("v1",)).is_live("v2", ZONES)
    assert not serving("v1").is_live("v2", ZONES)
    assert not serving(None).is_live("v2", ("a",))


def test_a_table_with_rules_or_a_mirror_is_not_live() -> None:
    base = serving("v2")
    assert base.routes is not None
    preview = RouteRule(version="v1", header="X-Tester", equals="1")
    with_rule = base.model_copy(
        update={"routes": base.routes.model_copy(update={"rules": (preview,)})}
    )
    mirror = Mirror(version="v1", percent=5)
    mirrored = base.model_copy(update={"routes": base.routes.model_copy(update={"mirror": mirror})})
    assert not with_rule.is_live("v2", ZONES)
    assert not mirrored.is_live("v2", ZONES)


def test_serving_is_the_heaviest_version_unless_it_is_the_new_one() -> None:
    split_table = RouteTable(service="web", weights={"v1": 70, "v2": 30})
    recorded = Recorded(service="web", routes=split_table)
    assert recorded.serving(other_than="v3") == "v1"
    assert recorded.serving(other_than="v1") is None
    assert Recorded(service="web").serving(other_than="v1") is None


def test_recorded_of_a_provider_state_keeps_launches() -> None:
    state = ServiceState(
        region="r",
        service="web",
        versions_by_zone={"a": ["v1"]},
        routes=only("web", "v1"),
        generation=4,
        launches={"v1": V1_LAUNCH},
    )
    recorded = Recorded.of(state)
    assert recorded.generation == 4 and recorded.launches == {"v1": V1_LAUNCH}
    assert recorded.versions == frozenset({"v1"})


def test_restore_before_any_route_change_only_retires_the_new_version() -> None:
    assert restore_steps(serving("v1"), target(), PREPARED) == [Retire(version="v2")]


def test_restore_after_a_switch_puts_routes_back_first() -> None:
    done = [*PREPARED, SetRoutes(routes=RouteTable(service="web", weights=split("v1", "v2", 50)))]
    assert restore_steps(serving("v1"), target(), done) == [V1, Retire(version="v2")]


def test_restore_after_a_preview_puts_routes_back() -> None:
    preview = RouteTable(
        service="web", weights={"v1": 100}, rules=(PreviewMatch(header="x").rule("v2"),)
    )
    done = [*PREPARED, SetRoutes(routes=preview, label="preview")]
    assert restore_steps(serving("v1"), target(), done)[0] == V1


def test_restore_keeps_a_version_that_ran_before() -> None:
    done = [*PREPARED, SetRoutes(routes=only("web", "v2"))]
    recorded = serving("v1", also_running=("v2",))
    assert restore_steps(recorded, target(), done) == [V1]


def test_restore_of_a_first_deploy_retires_without_touching_routes() -> None:
    done = [*PREPARED, SetRoutes(routes=only("web", "v2"))]
    assert restore_steps(serving(None), target(), done) == [Retire(version="v2")]


def test_restore_after_finalize_starts_the_retired_version_from_its_artifact() -> None:
    done = [
        *PREPARED,
        SetRoutes(routes=only("web", "v2")),
        KeepWarm(version="v1", seconds=5),
        Retire(version="v1"),
    ]
    assert restore_steps(serving("v1"), target(), done) == [
        Prepare(version="v1", launch=V1_LAUNCH),
        AwaitHealthy(version="v1", deadline_s=20, interval_s=0.1),
        V1,
        Retire(version="v2"),
    ]


def test_nothing_done_nothing_to_restore() -> None:
    assert restore_steps(serving("v1"), target(), []) == []


def test_skew_needs_every_zone_on_the_new_version_and_all_traffic() -> None:
    def state(by_zone: dict[str, list[str]], weights: dict[str, int]) -> ServiceState:
        routes = RouteTable(service="web", weights=weights)
        return ServiceState(region="r", service="web", versions_by_zone=by_zone, routes=routes)

    assert skew(state({"a": ["v1", "v2"], "b": ["v2"]}, {"v2": 100}), target()) == ""
    assert "zones without v2 after the switch: b" in skew(
        state({"a": ["v2"], "b": ["v1"]}, {"v2": 100}), target()
    )
    assert "routes to v1 50%, v2 50%" in skew(
        state({"a": ["v2"], "b": ["v2"]}, {"v1": 50, "v2": 50}), target()
    )


def test_split() -> None:
    assert split("v1", "v2", 10) == {"v1": 90, "v2": 10}
    assert split("v1", "v2", 100) == {"v2": 100}
    assert split(None, "v2", 10) == {"v2": 100}


def test_describe_reads_like_the_step() -> None:
    assert describe(Prepare(version="v2", launch=LAUNCH)) == "start v2 ×2 in every zone"
    assert describe(SetRoutes(routes=only("web", "v2"), label="switch")) == "switch: v2 100%"
    assert describe(KeepWarm(version="v1", seconds=30)) == "keep v1 warm 30s"
