"""Teams' steps among the release steps, the saga's order, and what a step's result means (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from ferryman.deploy.steps import AwaitHealthy, AwaitPromotion, Hold, Prepare, Retire, SetRoutes
from ferryman.plan.custom_steps import ActivityPlan, CustomStepPlan, for_region, promotes
from ferryman.plan.models import DeployPlan, GatePlan, RegionPlan, WavePlan
from ferryman.plan.release import (
    Bake,
    BuildStep,
    Compensate,
    CustomStep,
    DeployWave,
    Finalize,
    Gate,
    RestoreRegions,
    release_steps,
    undo_order,
)
from ferryman.platform.models import Launch, RouteTable
from ferryman.temporal.models.custom import StepView, judge
from ferryman.temporal.workflows.custom_steps import StepBook


def step(name: str, at: str, wave: int | None = None, **changes: Any) -> CustomStepPlan:
    call = ActivityPlan(name=name, task_queue="team")
    return CustomStepPlan.model_validate(
        {"name": name, "at": at, "wave": wave, "call": call, **changes}
    )


def deploy(**changes: Any) -> DeployPlan:
    regions = tuple(RegionPlan(name=r, zones=("a",)) for r in ("us", "eu"))
    return DeployPlan(environment="prod", regions=regions, services=(), **changes)


def test_release_points_stand_around_waves_after_gates_before_and_before_gates_after() -> None:
    steps = (
        step("w2", "before-wave", 2),
        step("env", "before-environment"),
        step("w1", "before-wave", 1),
        step("a1", "after-wave", 1),
        step("per-region", "before-region"),
    )
    gates = (
        GatePlan(name="go", at="before-environment"),
        GatePlan(name="looked", at="after-wave", wave=1),
    )
    waves = (WavePlan(regions=("us",), bake_s=60), WavePlan(regions=("eu",)))
    assert release_steps(deploy(steps=steps, gates=gates, waves=waves)) == [
        BuildStep(),
        Gate(gate=gates[0]),
        CustomStep(step=steps[1]),
        CustomStep(step=steps[2]),
        DeployWave(wave=0, regions=("us",)),
        CustomStep(step=steps[3]),
        Gate(gate=gates[1]),
        Bake(wave=0, seconds=60),
        CustomStep(step=steps[0]),
        DeployWave(wave=1, regions=("eu",)),
        Finalize(regions=("us", "eu")),
    ]


def test_bake_checks_make_a_bake_even_of_no_time() -> None:
    every, second = step("judge", "during-bake"), step("slo", "during-bake", 2)
    waves = (WavePlan(regions=("us",), bake_s=60), WavePlan(regions=("eu",)))
    bakes = [
        s for s in release_steps(deploy(steps=(every, second), waves=waves)) if isinstance(s, Bake)
    ]
    assert bakes == [
        Bake(wave=0, seconds=60, checks=(every,)),
        Bake(wave=1, seconds=0, checks=(every, second)),
    ]


def test_region_steps_go_with_the_regions_they_name() -> None:
    steps = (
        step("all", "before-region"),
        step("eu-only", "after-region", regions=("eu",)),
        step("once", "before-environment"),
    )
    assert [s.name for s in for_region(steps, "us")] == ["all"]
    assert [s.name for s in for_region(steps, "eu")] == ["all", "eu-only"]


LAUNCH = Launch(artifact_digest="d", command="c")


def test_the_promotion_is_the_first_step_giving_the_new_version_traffic_or_a_hold() -> None:
    preview = RouteTable(service="web", weights={"v1": 100})
    canary = RouteTable(service="web", weights={"v1": 90, "v2": 10})
    assert not promotes(Prepare(version="v2", launch=LAUNCH), "v2")
    assert not promotes(AwaitHealthy(version="v2", deadline_s=5), "v2")
    assert not promotes(SetRoutes(routes=preview, label="preview"), "v2")
    assert promotes(SetRoutes(routes=canary), "v2")
    assert promotes(AwaitPromotion(version="v2"), "v2")
    assert promotes(Hold(), "v2")
    assert not promotes(Retire(version="v1"), "v2")


def test_undo_order_interleaves_compensations_with_region_restores() -> None:
    touched = [(0, "us"), (1, "eu"), (1, "ap")]
    done = [(0, "env"), (1, "after-1"), (1, "before-2"), (3, "after-2")]
    assert undo_order(touched, done) == [
        Compensate(step="after-2"),
        RestoreRegions(regions=("eu", "ap")),
        Compensate(step="before-2"),
        Compensate(step="after-1"),
        RestoreRegions(regions=("us",)),
        Compensate(step="env"),
    ]


def test_undo_order_without_steps_is_the_region_compensation() -> None:
    assert undo_order([(0, "us"), (1, "eu")], []) == [
        RestoreRegions(regions=("eu",)),
        RestoreRegions(regions=("us",)),
    ]
    assert undo_order([], [(0, "env")]) == [Compensate(step="env")]


@pytest.mark.parametrize(
    ("result", "verdict"),
    [
        (None, (True, "")),
        ("done", (True, "")),
        ({"rows": 3}, (True, "")),
        ({"message": "migrated 3 rows"}, (True, "migrated 3 rows")),
        ({"passed": True, "message": "ok", "p99": 120}, (True, "ok")),
        ({"passed": False, "message": "budget burnt"}, (False, "budget burnt")),
        ({"passed": False}, (False, "")),
        ({"passed": True, "message": None}, (True, "")),
        ({"schema_version": 2, "rows": 3}, (True, "")),
    ],
)
def test_a_result_passes_unless_it_says_passed_false(
    result: Any, verdict: tuple[bool, str]
) -> None:
    assert judge(result) == verdict


@pytest.mark.parametrize(
    ("result", "reason"),
    [
        ({"passed": None}, '"passed": null, not true or false'),
        ({"passed": "no"}, '"passed": "no", not true or false'),
        ({"passed": "true"}, '"passed": "true", not true or false'),
        ({"passed": 1}, '"passed": 1, not true or false'),
        ({"passed": True, "schema_version": 2}, "schema_version 2; ferryman reads"),
        ({"passed": True, "schema_version": "1"}, 'schema_version "1"; ferryman reads'),
    ],
)
def test_a_verdict_that_is_not_a_custom_step_result_fails_the_step_and_says_why(
    result: Any, reason: str
) -> None:
    passed, message = judge(result)
    assert not passed
    assert reason in message and "ferryman.CustomStepResult.v1" in message


def test_the_book_logs_changes_and_says_what_the_steps_wait_for() -> None:
    book = StepBook()
    view = StepView(name="migrate", at="before-wave 1", target="migrate on ops", input={"a": 1})
    assert book.note(view) == 'step migrate (before-wave 1): migrate on ops, input {"a":1}'
    assert book.note(view) is None, "no change, no line"
    waiting = view.model_copy(
        update={"status": "waiting-for-worker", "waiting": "waiting for a worker on ops"}
    )
    assert book.note(waiting) == "step migrate (before-wave 1) is waiting for a worker on ops"
    assert book.waiting() == "a worker on ops (step migrate)"
    taken = waiting.model_copy(update={"status": "running", "waiting": ""})
    assert book.note(taken) == "step migrate (before-wave 1): a worker took it"
    done = taken.model_copy(update={"status": "succeeded", "result": {"rows": 3}})
    assert book.note(done) == 'step migrate (before-wave 1) succeeded: {"rows":3}'
    assert book.waiting() == ""
    regional = StepView(name="smoke", at="after-region", region="eu", status="failed", error="x")
    assert book.note(regional) == "step smoke (after-region in eu) failed: x"
    assert [v.name for v in book.views()] == ["migrate", "smoke"]
