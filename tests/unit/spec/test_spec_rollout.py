"""Rollout waves, bakes, failure policy and data residency: spec checks and compiled plans."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferryman.errors import SpecError
from ferryman.plan.compile import compile_plan
from ferryman.plan.models import WavePlan
from ferryman.spec.duration import parse_duration
from ferryman.spec.load import load_spec_text

SPEC = """\
system: shop
repos:
  app:
    source: ./app
    build: {{steps: [{{name: b, run: "true"}}]}}
    outputs: ["x"]
services:
  web:
    artifact: app
    run: serve
{residency}
environments:
  prod:
    regions:
      us-east: {{zones: [a], tags: [us]}}
      eu-west: {{zones: [a], tags: [eu]}}
      eu-north: {{zones: [a], tags: [eu]}}
      ap-south: {{zones: [a], tags: [apac]}}
    rollout:
{rollout}
"""


def spec(rollout: str, residency: str = "") -> str:
    indented = "\n".join(f"      {line}" for line in rollout.splitlines())
    return SPEC.format(rollout=indented, residency=residency)


WAVES = "waves: [[us-east], [eu-west, eu-north], [ap-south]]"


def issues(text: str) -> list[str]:
    with pytest.raises(SpecError) as error:
        load_spec_text(text, "ferryman.yaml")
    return [str(issue) for issue in error.value.issues]


def test_waves_bakes_and_failure_policy_reach_the_plan(tmp_path: Path) -> None:
    text = spec(
        f"{WAVES}\nbake: 10m\non-failure: pause\nmax-failed-regions: 1\nkeep-previous: bake"
    )
    plan = compile_plan(load_spec_text(text, "f.yaml"), tmp_path / "f.yaml", "prod")
    assert plan.deploy.waves == (
        WavePlan(regions=("us-east",), bake_s=600, max_failed_regions=1),
        WavePlan(regions=("eu-west", "eu-north"), bake_s=600, max_failed_regions=1),
        WavePlan(regions=("ap-south",), bake_s=600, max_failed_regions=1),
    )
    assert plan.deploy.on_failure == "pause" and plan.deploy.keep_previous == "bake"


def test_a_wave_may_set_its_own_bake_and_failure_budget(tmp_path: Path) -> None:
    text = spec(
        "waves:\n  - [us-east]\n  - {regions: [eu-west, eu-north], bake: 1h30m, "
        "max-failed-regions: 1}\n  - [ap-south]\nbake: 30s"
    )
    waves = compile_plan(load_spec_text(text, "f.yaml"), tmp_path / "f.yaml", "prod").deploy.waves
    assert [(w.bake_s, w.max_failed_regions) for w in waves] == [(30, 0), (5400, 1), (30, 0)]


def test_without_waves_each_region_is_a_wave_in_order(tmp_path: Path) -> None:
    plan = compile_plan(load_spec_text(spec("bake: 5s"), "f.yaml"), tmp_path / "f.yaml", "prod")
    assert [w.regions for w in plan.deploy.waves] == [
        ("us-east",),
        ("eu-west",),
        ("eu-north",),
        ("ap-south",),
    ]
    assert plan.deploy.on_failure == "rollback" and plan.deploy.keep_previous == "until-done"


def test_an_unknown_region_in_a_wave_is_located() -> None:
    text = spec("waves: [[us-east], [eu-west, eu-nrth], [ap-south, eu-north]]")
    assert issues(text) == [
        "ferryman.yaml:20:36: environments.prod.rollout.waves[1][1]: "
        "unknown region 'eu-nrth' (did you mean 'eu-north'?)"
    ]


def test_a_region_in_two_waves_and_a_region_in_none_are_located() -> None:
    text = spec("waves: [[us-east, eu-west], [eu-west]]")
    assert issues(text) == [
        "ferryman.yaml:20:14: environments.prod.rollout.waves: "
        "regions in no wave: eu-north, ap-south (every region needs one)",
        "ferryman.yaml:20:36: environments.prod.rollout.waves[1][0]: "
        "region 'eu-west' is already in wave 1",
    ]


def test_a_service_outside_its_residency_is_refused_before_anything_starts() -> None:
    text = spec(WAVES, residency="    residency: [eu, us]")
    assert issues(text) == [
        "ferryman.yaml:11:16: services.web.residency: prod would place web in ap-south "
        "(tags: apac), outside its residency eu, us"
    ]


@pytest.mark.parametrize(
    ("bad", "message"),
    [("on-failure: retry", "on-failure"), ("bake: soon", "expected a duration")],
)
def test_bad_rollout_values_are_located(bad: str, message: str) -> None:
    found = issues(spec(f"{WAVES}\n{bad}"))
    assert len(found) == 1 and message in found[0], found


def test_durations() -> None:
    assert parse_duration(90) == 90.0
    assert parse_duration("1h30m") == 5400.0
    assert parse_duration("250ms") == 0.25
    assert parse_duration("2d") == 172800.0
    for bad in ("", "5 minutes", "-3s", True, -1):
        with pytest.raises(ValueError):
            parse_duration(bad)
