"""A spec the loader accepts compiles into a plan the workflows can carry out, or a PlanError.

Property-based (hypothesis): valid specs of every feature with edge values put in, and the
examples mutated. Whatever loads is compiled for each of its environments and platforms;
the compiler may refuse the request with a ``PlanError`` (no matrix leg for the platform)
and raise nothing else. A plan it returns survives ferryman's data converter unchanged
(it is the release workflow's input) and every duration in it is one the workflows can
turn into a ``timedelta`` and add to a date. The regressions below are what it found.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ferryman.errors import PlanError, SpecError
from ferryman.plan.compile import compile_plan
from ferryman.plan.models import ReleasePlan
from ferryman.spec.load import load_spec_text
from ferryman.temporal.converter import DATA_CONVERTER

from .spec.fuzzing import DIRECTORY, EXAMPLES, FUZZ, mutated_examples, near_valid_specs

PLATFORMS = ("linux/amd64", "linux/arm64")


def compiled(text: str) -> list[ReleasePlan]:
    """Every plan ``text`` compiles into (none if it does not load or has no environment)."""
    try:
        spec = load_spec_text(text, "ferryman.yaml", DIRECTORY)
    except SpecError:
        return []  # located and readable: tests/unit/spec/test_spec_fuzz.py
    plans = []
    for environment in spec.environments:
        for platform in PLATFORMS:
            try:
                plan = compile_plan(
                    spec,
                    "/srv/shop/ferryman.yaml",
                    environment,
                    "v1",
                    platform,
                    directory=DIRECTORY,
                )
            except PlanError:
                continue
            plans.append(plan)
    return plans


def durations(data: Any) -> list[float]:
    """Every ``…_s`` number (seconds) anywhere in a plan's dump."""
    if isinstance(data, dict):
        found = [v for k, v in data.items() if k.endswith("_s") and isinstance(v, int | float)]
        return found + [d for value in data.values() for d in durations(value)]
    if isinstance(data, list | tuple):
        return [d for value in data for d in durations(value)]
    return []


def assert_runnable(plan: ReleasePlan) -> None:
    """The plan crosses the data converter unchanged, and its durations fit the workflows."""
    payloads = DATA_CONVERTER.payload_converter.to_payloads([plan])
    assert DATA_CONVERTER.payload_converter.from_payloads(payloads, [ReleasePlan]) == [plan]
    for seconds in durations(plan.model_dump()):
        assert math.isfinite(seconds) and seconds >= 0, seconds
        datetime(2100, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)  # a bake's end, say


@FUZZ
@given(st.one_of(near_valid_specs(), mutated_examples()))
def test_a_spec_that_loads_compiles_into_a_runnable_plan_or_a_plan_error(text: str) -> None:
    for plan in compiled(text):
        assert_runnable(plan)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.parent.name)
def test_the_examples_compile_into_runnable_plans(path: Any) -> None:
    plans = compiled(path.read_text(encoding="utf-8"))
    assert plans
    for plan in plans:
        assert_runnable(plan)


# --- what the fuzzing found ---------------------------------------------------------------------

HELLO = EXAMPLES[0].read_text(encoding="utf-8")


def refused(old: str, new: str) -> list[str]:
    """The issues of the hello example with ``old`` (once in it) replaced by ``new``."""
    assert HELLO.count(old) == 1, old
    with pytest.raises(SpecError) as error:
        load_spec_text(HELLO.replace(old, new), "f.yaml", DIRECTORY)
    return [str(issue) for issue in error.value.issues]


ZONES = "        zones: [a]\n"


@pytest.mark.parametrize(
    ("old", "new", "issue"),
    [
        # A plan with inf crossed the data converter as null: the workflow could not read it.
        (
            "timeout-seconds: 20",
            "timeout-seconds: .inf",
            "f.yaml:25:24: services.web.health.timeout-seconds: expected a finite number, got inf",
        ),
        # nan passed the spec and failed the plan's own model: a ValidationError from compile.
        (
            ZONES,
            ZONES + "    rollout: {bake: .nan}\n",
            "f.yaml:34:21: environments.dev.rollout.bake: expected a finite number, got nan",
        ),
        # 1e308 minutes made an infinite step timeout in the plan.
        (
            "timeout-minutes: 2",
            "timeout-minutes: 1e308",
            "f.yaml:16:28: repos.hello.build.steps[1].timeout-minutes: must be at most 525600, "
            "got 1e+308",
        ),
        # Durations past what a timedelta (and a date after it) can hold crashed the workflow.
        (
            ZONES,
            ZONES + "    rollout: {bake: 9999999999h}\n",
            "f.yaml:34:21: environments.dev.rollout.bake: a duration must be at most 365d, "
            "got '9999999999h'",
        ),
        (
            "    replicas: 2",
            "    replicas: 2\n    strategy: {blue-green: {pause-seconds: 1e308}}",
            "f.yaml:27:44: services.web.strategy.blue-green.pause-seconds: must be at most "
            "31536000, got 1e+308",
        ),
    ],
)
def test_numbers_no_workflow_can_hold_are_refused_where_they_are_written(
    old: str, new: str, issue: str
) -> None:
    assert refused(old, new) == [issue]


def test_a_year_long_bake_is_still_a_runnable_plan() -> None:
    spec = load_spec_text(HELLO.replace(ZONES, ZONES + "    rollout: {bake: 365d}\n"), "f.yaml")
    plan = compile_plan(spec, "/srv/hello/ferryman.yaml", "dev", "v1")
    assert plan.deploy.waves[0].bake_s == 365 * 86400
    assert_runnable(plan)


def test_a_sequential_margin_the_rates_test_refuses_is_a_spec_error() -> None:
    # The spec took margin 1 on an error rate; compile_plan raised pydantic's ValidationError.
    template = (
        "analysis:\n  templates:\n    errors:\n      metrics:\n        - name: rate\n"
        "          query: {kind: error_rate}\n          judge: {sequential: {margin: 1}}\n"
    )
    with pytest.raises(SpecError) as error:
        load_spec_text(HELLO + template, "f.yaml")
    assert [str(issue) for issue in error.value.issues] == [
        "f.yaml:38:11: analysis.templates.errors.metrics[0]: a sequential margin on error_rate"
        " is an increase of the error rate below 1 (0.005 = +0.5 pp), got 1"
    ]
    latency = template.replace("error_rate", "latency")  # relative there: +100 % is allowed
    plans = compiled(HELLO + latency)
    assert plans
