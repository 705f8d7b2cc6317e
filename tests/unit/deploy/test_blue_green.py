"""The blue-green strategy: every option, as switch and finalize steps."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ferryman.deploy.steps import (
    AwaitHealthy,
    AwaitPromotion,
    KeepWarm,
    Pause,
    Prepare,
    PreviewMatch,
    Retire,
    SetRoutes,
    Smoke,
    SmokeCheck,
)
from ferryman.deploy.strategies import BlueGreenOptions, rollout
from ferryman.platform.models import RouteRule, RouteTable

from .conftest import LAUNCH, kinds, serving, target


def table(weights: dict[str, int], *rules: RouteRule) -> RouteTable:
    return RouteTable(service="web", weights=weights, rules=rules)


def test_defaults_switch_at_once_then_finalize_keeps_warm_and_retires() -> None:
    steps = rollout(BlueGreenOptions(), serving("v1"), target())
    assert steps.switch == (
        Prepare(version="v2", launch=LAUNCH),
        AwaitHealthy(version="v2", deadline_s=120.0, interval_s=0.1),
        SetRoutes(routes=table({"v2": 100}), label="switch 100%"),
    )
    assert steps.finalize == (KeepWarm(version="v1", seconds=30.0), Retire(version="v1"))


def test_first_deploy_has_nothing_to_keep_warm_or_retire() -> None:
    options = BlueGreenOptions(preview=PreviewMatch(header="x-preview"))
    steps = rollout(options, serving(None), target("v1"))
    assert kinds(steps.switch) == ["prepare", "await-healthy", "set-routes"]
    assert steps.finalize == ()


def test_gradual_steps_pause_between_but_not_after_the_last() -> None:
    options = BlueGreenOptions(traffic_steps=(10, 50, 100), pause_s=5, scale_down_delay_s=0)
    steps = rollout(options, serving("v1"), target())
    assert steps.switch[2:] == (
        SetRoutes(routes=table({"v1": 90, "v2": 10}), label="switch 10%"),
        Pause(seconds=5),
        SetRoutes(routes=table({"v1": 50, "v2": 50}), label="switch 50%"),
        Pause(seconds=5),
        SetRoutes(routes=table({"v2": 100}), label="switch 100%"),
    )
    assert steps.finalize == (Retire(version="v1"),)


def test_preview_smoke_and_manual_gate_come_before_any_user_traffic() -> None:
    options = BlueGreenOptions(
        preview=PreviewMatch(cookie="canary", value="yes"),
        smoke=(SmokeCheck(path="/healthz"),),
        post_smoke=(SmokeCheck(path="/", contains="hello"),),
        auto_promote=False,
    )
    switch = rollout(options, serving("v1"), target()).switch
    assert kinds(switch) == [
        "prepare", "await-healthy", "set-routes", "smoke", "await-promotion",
        "set-routes", "smoke",
    ]  # fmt: skip
    preview = switch[2]
    assert isinstance(preview, SetRoutes) and preview.label == "preview"
    rule = RouteRule(version="v2", cookie="canary", equals="yes")
    assert preview.routes == table({"v1": 100}, rule)
    assert isinstance(switch[4], AwaitPromotion)
    smoke = switch[3]
    assert isinstance(smoke, Smoke) and smoke.match == PreviewMatch(cookie="canary", value="yes")
    post = switch[6]
    assert isinstance(post, Smoke) and post.checks[0].contains == "hello" and post.match is None


def test_smoke_without_preview_uses_an_internal_header_rule() -> None:
    options = BlueGreenOptions(smoke=(SmokeCheck(path="/healthz"),), scale_down_delay_s=0)
    switch = rollout(options, serving("v1"), target()).switch
    assert kinds(switch) == ["prepare", "await-healthy", "set-routes", "smoke", "set-routes"]
    match = PreviewMatch(header="X-Ferryman-Preview", value="v2")
    assert switch[2] == SetRoutes(routes=table({"v1": 100}, match.rule("v2")), label="preview")
    assert isinstance(switch[3], Smoke) and switch[3].match == match


def test_first_deploy_smoke_runs_right_after_going_live() -> None:
    options = BlueGreenOptions(smoke=(SmokeCheck(),))
    switch = rollout(options, serving(None), target("v1")).switch
    assert kinds(switch) == ["prepare", "await-healthy", "set-routes", "smoke"]


def test_first_deploy_ignores_gradual_steps() -> None:
    options = BlueGreenOptions(traffic_steps=(10, 100), pause_s=60)
    switch = rollout(options, serving(None), target("v1")).switch
    assert kinds(switch) == ["prepare", "await-healthy", "set-routes"]


def test_a_version_already_live_is_unchanged() -> None:
    steps = rollout(BlueGreenOptions(), serving("v2"), target("v2"))
    assert steps.unchanged and steps.switch == () and steps.finalize == ()


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
