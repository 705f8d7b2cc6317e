"""The ``strategy`` key of a service: loading, located errors, compilation into the plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferryman.deploy.steps import PreviewMatch, SmokeCheck
from ferryman.deploy.strategies import BlueGreenOptions, ReplaceOptions
from ferryman.errors import SpecError
from ferryman.plan.compile import compile_plan
from ferryman.spec.load import load_spec_text

SPEC = """\
system: hello
repos:
  hello:
    source: ./app
    build:
      steps:
        - name: build
          run: make
    outputs: ["dist/**"]
services:
  web:
    artifact: hello
    run: ./serve
    strategy:
      blue-green:
{options}
environments:
  dev:
    regions:
      eu-1: {{zones: [a, b, c]}}
"""


def spec_with(options: str) -> str:
    return SPEC.format(options="\n".join(f"        {line}" for line in options.splitlines()))


def test_blue_green_options_reach_the_plan(tmp_path: Path) -> None:
    text = spec_with(
        "auto-promote: false\n"
        "preview: {header: X-Tester, value: 'yes'}\n"
        "smoke: [{path: /healthz}, {path: /, contains: hello}]\n"
        "traffic-steps: [10, 50, 100]\n"
        "pause-seconds: 5\n"
        "scale-down-delay-seconds: 60\n"
        "progress-deadline-seconds: 90"
    )
    spec = load_spec_text(text, "ferryman.yaml")
    plan = compile_plan(spec, tmp_path / "ferryman.yaml", "dev")
    options = plan.deploy.services[0].strategy
    assert isinstance(options, BlueGreenOptions)
    assert not options.auto_promote
    assert options.preview == PreviewMatch(header="X-Tester", value="yes")
    assert options.smoke == (SmokeCheck(path="/healthz"), SmokeCheck(path="/", contains="hello"))
    assert options.traffic_steps == (10, 50, 100)
    assert (options.pause_s, options.scale_down_delay_s, options.progress_deadline_s) == (5, 60, 90)


def test_defaults_follow_the_issue(tmp_path: Path) -> None:
    spec = load_spec_text(spec_with("{}"), "ferryman.yaml")
    options = compile_plan(spec, tmp_path / "f.yaml", "dev").deploy.services[0].strategy
    assert isinstance(options, BlueGreenOptions)
    assert options.scale_down_delay_s == 30 and options.auto_promote


def test_no_strategy_means_level_one(tmp_path: Path) -> None:
    text = spec_with("{}").replace("    strategy:\n      blue-green:\n        {}\n", "")
    assert "strategy" not in text
    plan = compile_plan(load_spec_text(text, "f.yaml"), tmp_path / "f.yaml", "dev")
    assert plan.deploy.services[0].strategy == ReplaceOptions()


@pytest.mark.parametrize(
    ("options", "line", "path", "message"),
    [
        (
            "traffic-steps: [50, 10, 100]",
            16,
            "services.web.strategy.blue-green.traffic-steps",
            "traffic steps must rise strictly",
        ),
        (
            "traffic-steps: [10, 50]",
            16,
            "services.web.strategy.blue-green.traffic-steps",
            "traffic steps must end at 100",
        ),
        (
            "preview: {header: X-A, cookie: b}",
            16,
            "services.web.strategy.blue-green.preview",
            "exactly one of 'header' or 'cookie'",
        ),
        (
            "smoke: [{path: /, staus: 200}]",
            16,
            "services.web.strategy.blue-green.smoke[0]",
            "unknown key 'staus' (did you mean 'status'?)",
        ),
        (
            "scale-down-delay: 5",
            16,
            "services.web.strategy.blue-green",
            "unknown key 'scale-down-delay'",
        ),
    ],
)
def test_bad_options_are_located(options: str, line: int, path: str, message: str) -> None:
    with pytest.raises(SpecError) as error:
        load_spec_text(spec_with(options), "ferryman.yaml")
    issues = error.value.issues
    assert len(issues) == 1, issues
    assert issues[0].line == line and issues[0].path.startswith(path), issues[0]
    assert message in issues[0].message


def test_replace_can_be_named_and_two_strategies_are_refused(tmp_path: Path) -> None:
    text = spec_with("{}").replace("      blue-green:\n        {}\n", "      replace: {}\n")
    plan = compile_plan(load_spec_text(text, "f.yaml"), tmp_path / "f.yaml", "dev")
    assert plan.deploy.services[0].strategy == ReplaceOptions()
    both = spec_with("{}").replace("      blue-green:\n", "      replace: {}\n      blue-green:\n")
    with pytest.raises(SpecError) as error:
        load_spec_text(both, "ferryman.yaml")
    assert "choose one strategy, got replace, blue-green" in str(error.value)
