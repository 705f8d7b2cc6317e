"""The canary strategy: steps, route tables with a fresh baseline, sticky users, restore."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ferryman.analysis.runs import Sides
from ferryman.analysis.sequential import SequentialConfig
from ferryman.analysis.templates import AnalysisQuery, MetricPlan, TemplatePlan
from ferryman.deploy.steps import (
    Analyze,
    AwaitHealthy,
    Hold,
    KeepWarm,
    Prepare,
    PreviewMatch,
    Retire,
    SetRoutes,
    describe,
    only,
    restore_steps,
    skew,
)
from ferryman.deploy.strategies import CanaryOptions, rollout
from ferryman.deploy.strategies.canary import (
    AnalysisStep,
    HeaderRoute,
    MirrorStep,
    PauseStep,
    SetWeight,
    canary_table,
)
from ferryman.platform.models import Mirror, RouteRule, ServiceState
from ferryman.platform.routes import Chooser, check_table

from .conftest import LAUNCH, V1_LAUNCH, ZONES, kinds, serving, target

TEMPLATE = TemplatePlan(
    name="errors",
    metrics=(
        MetricPlan(
            name="errors",
            source="local",
            query=AnalysisQuery(kind="error_rate"),
            judge=SequentialConfig(count=30, interval_s=10),
            interval_s=10,
            count=30,
        ),
    ),
)


def walk(*weights: int, analysis: bool = True) -> CanaryOptions:
    steps: list[object] = []
    for weight in weights:
        steps.append(SetWeight(weight=weight))
        if analysis:
            steps.append(AnalysisStep(templates=(TEMPLATE,), interval_s=2, count=5))
    return CanaryOptions.model_validate({"steps": steps, "scale_down_delay_s": 5})


def test_a_fresh_baseline_starts_beside_the_canary_from_the_stable_launch() -> None:
    steps = rollout(walk(5), serving("v1"), target()).switch
    baseline_launch = V1_LAUNCH.model_copy(update={"replicas": LAUNCH.replicas})
    assert steps[:4] == (
        Prepare(version="v2", launch=LAUNCH),
        Prepare(version="v1.baseline", launch=baseline_launch),
        AwaitHealthy(version="v2", deadline_s=120.0, interval_s=0.1),
        AwaitHealthy(version="v1.baseline", deadline_s=120.0, interval_s=0.1),
    )


def test_good_canary_walks_the_weights_with_analysis_then_promotes() -> None:
    result = rollout(walk(5, 25, 50, 100), serving("v1"), target())
    tables = [s.routes.weights for s in result.switch if isinstance(s, SetRoutes)]
    assert tables == [
        {"v2": 5, "v1": 90, "v1.baseline": 5},
        {"v2": 25, "v1": 50, "v1.baseline": 25},
        {"v2": 50, "v1.baseline": 50},
        {"v2": 100},
    ]
    analyses = [s for s in result.switch if isinstance(s, Analyze)]
    assert [a.label for a in analyses] == [f"analysis at {w}%" for w in (5, 25, 50, 100)]
    assert analyses[0].sides == Sides(
        canary="v2", baseline="v1.baseline", references=("v1.baseline", "v1")
    )
    metric = analyses[0].templates[0].metrics[0]
    assert (metric.interval_s, metric.count) == (2, 5), "the step's interval and count win"
    assert isinstance(metric.judge, SequentialConfig) and metric.judge.count == 5
    assert kinds(result.switch[-2:]) == ["analyze", "retire"]
    assert result.switch[-1] == Retire(version="v1.baseline")
    assert result.finalize == (KeepWarm(version="v1", seconds=5), Retire(version="v1"))


def test_the_last_table_sends_everything_to_the_canary_even_if_the_steps_stop_short() -> None:
    result = rollout(walk(5, 25, analysis=False), serving("v1"), target())
    assert result.switch[-2:] == (
        SetRoutes(routes=only("web", "v2"), label="promote"),
        Retire(version="v1.baseline"),
    )
    after = ServiceState(
        region="r",
        service="web",
        versions_by_zone={zone: ["v1", "v2"] for zone in ZONES},
        routes=only("web", "v2"),
    )
    assert skew(after, target()) == "", "a promoted canary passes the skew check"


def test_users_stay_on_the_canary_as_its_weight_grows() -> None:
    users = [f"user-{n}" for n in range(3000)]
    previous: set[str] = set()
    for weight in (5, 25, 50):
        table = canary_table("web", "v1", "v2", weight, baseline="v1.baseline")
        check_table(table, {"v1", "v2", "v1.baseline"})
        chooser = Chooser(table)
        on_canary = {u for u in users if chooser.choose({"X-User-Id": u}, {}) == "v2"}
        on_baseline = {u for u in users if chooser.choose({"X-User-Id": u}, {}) == "v1.baseline"}
        assert previous <= on_canary, "nobody leaves the canary"
        assert abs(len(on_canary) / len(users) - weight / 100) < 0.03
        assert abs(len(on_baseline) / len(users) - weight / 100) < 0.03
        previous = on_canary
    same = Chooser(canary_table("web", "v1", "v2", 25, baseline="v1.baseline"))
    assert len({same.choose({"X-User-Id": "user-7"}, {}) for _ in range(20)}) == 1


def test_bucket_rules_route_canary_then_baseline_then_stable() -> None:
    table = canary_table("web", "v1", "v2", 5, baseline="v1.baseline")
    assert table.rules == (
        RouteRule(version="v2", buckets=500),
        RouteRule(version="v1.baseline", buckets=1000),
        RouteRule(version="v1", buckets=10_000),
    )


def test_stable_baseline_compares_with_the_stable_version_itself() -> None:
    options = walk(10).model_copy(update={"baseline": "stable"})
    result = rollout(options, serving("v1"), target())
    assert not any(
        isinstance(s, Prepare) and s.version.endswith(".baseline") for s in result.switch
    )
    tables = [s.routes for s in result.switch if isinstance(s, SetRoutes)]
    assert tables[0].weights == {"v2": 10, "v1": 90}
    analysis = next(s for s in result.switch if isinstance(s, Analyze))
    assert analysis.sides == Sides(canary="v2", baseline="v1", references=("v1",))
    assert not any(isinstance(s, Retire) for s in result.switch)


def test_without_the_stable_launch_the_baseline_is_the_stable_version() -> None:
    recorded = serving("v1").model_copy(update={"launches": {}})
    result = rollout(walk(10), recorded, target())
    analysis = next(s for s in result.switch if isinstance(s, Analyze))
    assert analysis.sides.baseline == "v1"


def test_pauses_become_holds_header_routes_and_mirrors_become_tables() -> None:
    options = CanaryOptions(
        steps=(
            HeaderRoute(match=PreviewMatch(header="X-Beta", value="yes")),
            SetWeight(weight=5),
            PauseStep(seconds=30),
            MirrorStep(percent=20),
            PauseStep(),
        )
    )
    result = rollout(options, serving("v1"), target())
    tables = [s.routes for s in result.switch if isinstance(s, SetRoutes)]
    assert tables[0].rules[0] == RouteRule(version="v2", header="X-Beta", equals="yes")
    assert tables[0].weights == {"v1": 100}
    assert tables[1].rules[0].header == "X-Beta", "the header route stays"
    assert tables[2].mirror == Mirror(version="v2", percent=20)
    holds = [s for s in result.switch if isinstance(s, Hold)]
    assert holds == [Hold(seconds=30), Hold(seconds=None)]
    assert [describe(h) for h in holds] == ["pause 30s", "hold for promote"]


def test_first_deploy_goes_live_at_once_and_same_version_is_unchanged() -> None:
    first = rollout(walk(5), serving(None), target("v1"))
    assert kinds(first.switch) == ["prepare", "await-healthy", "set-routes"]
    assert first.finalize == ()
    assert rollout(walk(5), serving("v2"), target()).unchanged


def test_weights_must_rise() -> None:
    with pytest.raises(ValidationError, match=r"set-weight must rise: steps\[1\] sets 5"):
        CanaryOptions(steps=(SetWeight(weight=10), SetWeight(weight=5)))


def test_a_failed_canary_leaves_in_one_swap_and_retires_canary_and_baseline() -> None:
    result = rollout(walk(5, 25), serving("v1"), target())
    first_analysis = next(i for i, s in enumerate(result.switch) if isinstance(s, Analyze))
    attempted = list(result.switch[: first_analysis + 1])
    steps = restore_steps(serving("v1"), target(), attempted)
    assert steps == [
        SetRoutes(routes=only("web", "v1"), label="restore"),
        Retire(version="v2"),
        Retire(version="v1.baseline"),
    ]


def test_analysis_is_described_with_its_sides_and_templates() -> None:
    analysis = next(
        s for s in rollout(walk(5), serving("v1"), target()).switch if s.kind == "analyze"
    )
    assert describe(analysis) == "analysis at 5%: v2 vs v1.baseline (errors)"
