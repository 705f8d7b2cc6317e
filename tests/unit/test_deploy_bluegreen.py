"""The blue-green step machine: every option and every rollback branch."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ferryman.deploy.bluegreen import (
    AwaitHealthy,
    AwaitPromotion,
    BlueGreenOptions,
    KeepWarm,
    Pause,
    Prepare,
    Preview,
    PreviewMatch,
    Recorded,
    Retire,
    SetWeights,
    Smoke,
    SmokeCheck,
    blue_green_steps,
    describe,
    rollback_steps,
    split,
)


def kinds(steps: list[object]) -> list[str]:
    return [step.kind for step in steps]  # type: ignore[attr-defined]


def test_defaults_switch_at_once_keep_warm_then_retire() -> None:
    steps = blue_green_steps(BlueGreenOptions(), "v1", "v2")
    assert steps == [
        Prepare(version="v2"),
        AwaitHealthy(version="v2", deadline_s=120.0),
        SetWeights(weights={"v2": 100}),
        KeepWarm(version="v1", seconds=30.0),
        Retire(version="v1"),
    ]


def test_first_deploy_has_nothing_to_keep_warm_or_retire() -> None:
    steps = blue_green_steps(BlueGreenOptions(preview=PreviewMatch(header="x-preview")), None, "v1")
    assert kinds(steps) == ["prepare", "await-healthy", "set-weights"]


def test_gradual_steps_pause_between_but_not_after_the_last() -> None:
    options = BlueGreenOptions(traffic_steps=(10, 50, 100), pause_s=5, scale_down_delay_s=0)
    steps = blue_green_steps(options, "v1", "v2")
    assert steps[2:] == [
        SetWeights(weights={"v1": 90, "v2": 10}),
        Pause(seconds=5),
        SetWeights(weights={"v1": 50, "v2": 50}),
        Pause(seconds=5),
        SetWeights(weights={"v2": 100}),
        Retire(version="v1"),
    ]


def test_preview_smoke_and_manual_gate_come_before_any_user_traffic() -> None:
    options = BlueGreenOptions(
        preview=PreviewMatch(cookie="canary", value="yes"),
        smoke=(SmokeCheck(path="/healthz"),),
        post_smoke=(SmokeCheck(path="/", contains="hello"),),
        auto_promote=False,
    )
    steps = blue_green_steps(options, "v1", "v2")
    assert kinds(steps) == [
        "prepare", "await-healthy", "preview", "smoke", "await-promotion",
        "set-weights", "smoke", "keep-warm", "retire",
    ]  # fmt: skip
    preview = steps[2]
    assert isinstance(preview, Preview) and preview.stable == "v1" and preview.version == "v2"
    assert isinstance(steps[4], AwaitPromotion)
    smoke = steps[3]
    assert isinstance(smoke, Smoke) and smoke.match == PreviewMatch(cookie="canary", value="yes")
    post = steps[6]
    assert isinstance(post, Smoke) and post.checks[0].contains == "hello"


def test_smoke_without_preview_uses_an_internal_header_rule() -> None:
    options = BlueGreenOptions(smoke=(SmokeCheck(path="/healthz"),), scale_down_delay_s=0)
    steps = blue_green_steps(options, "v1", "v2")
    assert kinds(steps) == ["prepare", "await-healthy", "preview", "smoke", "set-weights", "retire"]
    match = PreviewMatch(header="X-Ferryman-Preview", value="v2")
    assert steps[2] == Preview(version="v2", stable="v1", match=match)
    assert isinstance(steps[3], Smoke) and steps[3].match == match


def test_first_deploy_smoke_runs_right_after_going_live() -> None:
    options = BlueGreenOptions(smoke=(SmokeCheck(),))
    steps = blue_green_steps(options, None, "v1")
    assert kinds(steps) == ["prepare", "await-healthy", "set-weights", "smoke"]


def test_first_deploy_ignores_gradual_steps() -> None:
    options = BlueGreenOptions(traffic_steps=(10, 100), pause_s=60)
    assert kinds(blue_green_steps(options, None, "v1")) == [
        "prepare", "await-healthy", "set-weights"
    ]  # fmt: skip


@pytest.mark.parametrize(
    "traffic_steps", [(), (10, 50), (50, 10, 100), (0, 100), (10, 10, 100), (10, 120)]
)
def test_invalid_traffic_steps_are_refused(traffic_steps: tuple[int, ...]) -> None:
    with pytest.raises(ValidationError):
        BlueGreenOptions(traffic_steps=traffic_steps)


def test_preview_needs_exactly_one_match() -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        PreviewMatch()
    with pytest.raises(ValidationError, match="exactly one"):
        PreviewMatch(header="a", cookie="b")


def test_split() -> None:
    assert split("v1", "v2", 10) == {"v1": 90, "v2": 10}
    assert split("v1", "v2", 100) == {"v2": 100}
    assert split(None, "v2", 10) == {"v2": 100}


RECORDED = Recorded(weights={"v1": 100}, versions=frozenset({"v1"}))


def test_rollback_before_any_route_change_only_retires_the_new_colour() -> None:
    done = [Prepare(version="v2"), AwaitHealthy(version="v2", deadline_s=1)]
    assert rollback_steps(RECORDED, "v2", done) == [Retire(version="v2")]


def test_rollback_after_a_switch_restores_routes_first() -> None:
    done = [Prepare(version="v2"), SetWeights(weights={"v1": 50, "v2": 50})]
    assert rollback_steps(RECORDED, "v2", done) == [
        SetWeights(weights={"v1": 100}),
        Retire(version="v2"),
    ]


def test_rollback_after_preview_restores_routes() -> None:
    done = [
        Prepare(version="v2"),
        Preview(version="v2", stable="v1", match=PreviewMatch(header="x")),
    ]
    assert rollback_steps(RECORDED, "v2", done)[0] == SetWeights(weights={"v1": 100})


def test_rollback_keeps_a_version_that_ran_before() -> None:
    recorded = Recorded(weights={"v1": 100}, versions=frozenset({"v1", "v2"}))
    done = [Prepare(version="v2"), SetWeights(weights={"v2": 100})]
    assert rollback_steps(recorded, "v2", done) == [SetWeights(weights={"v1": 100})]


def test_rollback_of_a_first_deploy_retires_without_touching_routes() -> None:
    done = [Prepare(version="v1"), SetWeights(weights={"v1": 100})]
    assert rollback_steps(Recorded(), "v1", done) == [Retire(version="v1")]


def test_nothing_done_nothing_to_roll_back() -> None:
    assert rollback_steps(RECORDED, "v2", []) == []


def test_describe_reads_like_the_steps() -> None:
    options = BlueGreenOptions(
        preview=PreviewMatch(header="X-T"),
        smoke=(SmokeCheck(),),
        auto_promote=False,
        traffic_steps=(10, 100),
        pause_s=30,
    )
    assert describe(options) == (
        "start in every zone → barrier (120s) → preview (X-T=1) → smoke ×1 → hold for promote"
        " → switch 10%/100% pausing 30s → keep old warm 30s → retire old"
    )
