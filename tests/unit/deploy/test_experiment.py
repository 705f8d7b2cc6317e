"""The experiment strategy: a sticky split by user bucket or segment, then the winner."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ferryman.analysis.runs import ExperimentPlan
from ferryman.deploy.steps import Experiment, KeepWarm, PreviewMatch, Retire, SetRoutes, only
from ferryman.deploy.strategies import ExperimentOptions, rollout
from ferryman.platform.models import RouteRule
from ferryman.platform.routes import Chooser

from .conftest import kinds, serving, target

PLAN = ExperimentPlan(exposures="shop_checkouts_total", conversions="shop_conversions_total")


def test_users_split_by_bucket_then_the_winner_takes_everything() -> None:
    options = ExperimentOptions(percent=50, plan=PLAN, scale_down_delay_s=0)
    result = rollout(options, serving("v1"), target())
    assert kinds(result.switch) == [
        "prepare",
        "await-healthy",
        "set-routes",
        "experiment",
        "set-routes",
    ]
    split = result.switch[2]
    assert isinstance(split, SetRoutes)
    assert split.routes.weights == {"v1": 50, "v2": 50}
    assert split.routes.rules == (
        RouteRule(version="v2", buckets=5000),
        RouteRule(version="v1", buckets=10_000),
    )
    assert result.switch[3] == Experiment(control="v1", treatment="v2", plan=PLAN)
    assert result.switch[4] == SetRoutes(routes=only("web", "v2"), label="winner")
    assert result.finalize == (Retire(version="v1"),)


def test_each_user_sees_one_variant() -> None:
    table = rollout(ExperimentOptions(percent=30, plan=PLAN), serving("v1"), target()).switch[2]
    assert isinstance(table, SetRoutes)
    chooser = Chooser(table.routes)
    for user in ("ann", "bob", "cyd"):
        assert len({chooser.choose({"X-User-Id": user}, {}) for _ in range(10)}) == 1


def test_a_segment_sees_the_treatment_everyone_else_the_control() -> None:
    segment = PreviewMatch(cookie="beta", value="yes")
    result = rollout(ExperimentOptions(segment=segment, plan=PLAN), serving("v1"), target())
    split = result.switch[2]
    assert isinstance(split, SetRoutes)
    assert split.routes.weights == {"v1": 100}
    assert split.routes.rules == (RouteRule(version="v2", cookie="beta", equals="yes"),)
    assert result.finalize == (KeepWarm(version="v1", seconds=30.0), Retire(version="v1"))


def test_variants_need_percent_or_segment_not_both() -> None:
    with pytest.raises(ValidationError, match="'percent' or by 'segment'"):
        ExperimentOptions(plan=PLAN)
    with pytest.raises(ValidationError, match="'percent' or by 'segment'"):
        ExperimentOptions(percent=10, segment=PreviewMatch(header="x"), plan=PLAN)


def test_first_deploy_has_no_control_and_goes_live() -> None:
    result = rollout(ExperimentOptions(percent=50, plan=PLAN), serving(None), target("v1"))
    assert kinds(result.switch) == ["prepare", "await-healthy", "set-routes"]
