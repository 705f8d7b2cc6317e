"""``canary`` and ``experiment`` strategies and ``analysis`` templates: loading, errors, plans."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferryman.deploy.steps import PreviewMatch
from ferryman.deploy.strategies import CanaryOptions, ExperimentOptions
from ferryman.deploy.strategies.canary import (
    AnalysisStep,
    HeaderRoute,
    MirrorStep,
    PauseStep,
    SetWeight,
)
from ferryman.errors import SpecError
from ferryman.plan.compile import compile_plan
from ferryman.spec.load import load_spec_text
from ferryman.spec.progressive import parse_duration

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
{strategy}
analysis:
  templates:
    error-rate:
      metrics:
        - name: errors
          query: {{kind: error_rate}}
          judge: {{sequential: {{alpha: 0.01}}}}
      interval-seconds: 10
      count: 30
environments:
  dev:
    regions:
      eu-1: {{zones: [a, b, c]}}
"""

CANARY = """\
canary:
  baseline: fresh
  on-no-data: fail
  progress-deadline: 1m
  scale-down-delay: 5s
  steps:
    - set-weight: 5
    - analysis: {templates: [error-rate], interval: 2s, count: 10}
    - pause: {duration: 1m30s}
    - set-header-route: {cookie: beta, value: "yes"}
    - set-mirror: {percent: 10}
    - set-weight: 50
    - pause: {}
"""


def spec_with(strategy: str) -> str:
    return SPEC.format(strategy="\n".join(f"      {line}" for line in strategy.splitlines()))


def test_canary_steps_and_templates_reach_the_plan(tmp_path: Path) -> None:
    spec = load_spec_text(spec_with(CANARY), "ferryman.yaml")
    options = compile_plan(spec, tmp_path / "f.yaml", "dev").deploy.services[0].strategy
    assert isinstance(options, CanaryOptions)
    assert (options.baseline, options.on_no_data) == ("fresh", "fail")
    assert (options.progress_deadline_s, options.scale_down_delay_s) == (60, 5)
    steps = options.steps
    assert steps[0] == SetWeight(weight=5)
    assert isinstance(steps[1], AnalysisStep)
    assert steps[1].templates[0].name == "error-rate"
    assert (steps[1].interval_s, steps[1].count) == (2, 10)
    assert steps[2] == PauseStep(seconds=90)
    assert steps[3] == HeaderRoute(match=PreviewMatch(cookie="beta", value="yes"))
    assert steps[4] == MirrorStep(percent=10)
    assert steps[6] == PauseStep(seconds=None)


def test_experiment_reaches_the_plan(tmp_path: Path) -> None:
    text = spec_with(
        "experiment:\n"
        "  percent: 30\n"
        "  metric: {exposures: shop_checkouts_total, conversions: shop_conversions_total}\n"
        "  stopping: sequential\n"
        "  interval: 2s\n"
        "  count: 100"
    )
    options = compile_plan(load_spec_text(text, "f.yaml"), tmp_path / "f.yaml", "dev")
    strategy = options.deploy.services[0].strategy
    assert isinstance(strategy, ExperimentOptions)
    assert strategy.percent == 30
    assert strategy.plan.conversions == "shop_conversions_total"
    assert strategy.plan.config.stopping == "sequential"
    assert (strategy.plan.interval_s, strategy.plan.count) == (2, 100)


@pytest.mark.parametrize(
    ("strategy", "line", "path", "message"),
    [
        (
            "canary:\n  steps:\n    - set-weight: 5\n    - analysis: {templates: [error-rat]}",
            18,
            "services.web.strategy.canary.steps[1].analysis.templates[0]",
            "unknown analysis template 'error-rat' (did you mean 'error-rate'?)",
        ),
        (
            "canary:\n  steps:\n    - set-weight: 25\n    - set-weight: 5",
            17,
            "services.web.strategy.canary.steps",
            "set-weight must rise: steps[1] sets 5 after steps[0] set 25",
        ),
        (
            "canary:\n  steps:\n    - set-header-route: {value: beta}",
            17,
            "services.web.strategy.canary.steps[0].set-header-route",
            "a segment rule needs a 'header' or a 'cookie'",
        ),
        (
            "canary:\n  steps:\n    - {set-weight: 5, pause: {}}",
            17,
            "services.web.strategy.canary.steps[0]",
            "a canary step has exactly one key",
        ),
        (
            "canary:\n  steps:\n    - pause: {duration: soon}",
            17,
            "services.web.strategy.canary.steps[0].pause.duration",
            "invalid duration 'soon'",
        ),
        (
            "experiment:\n  metric: {exposures: a, conversions: b}",
            16,
            "services.web.strategy.experiment",
            "an experiment needs 'percent' (of users) or a 'segment'",
        ),
        (
            "experiment:\n  segment: {value: x}\n  metric: {exposures: a, conversions: b}",
            16,
            "services.web.strategy.experiment.segment",
            "a segment rule needs a 'header' or a 'cookie'",
        ),
    ],
)
def test_bad_strategies_are_located(strategy: str, line: int, path: str, message: str) -> None:
    with pytest.raises(SpecError) as error:
        load_spec_text(spec_with(strategy), "ferryman.yaml")
    issues = error.value.issues
    assert len(issues) == 1, issues
    assert issues[0].path == path, issues[0]
    assert issues[0].line == line, issues[0]
    assert message in issues[0].message


def test_durations() -> None:
    assert parse_duration("30s") == 30
    assert parse_duration("1h30m") == 5400
    assert parse_duration("500ms") == 0.5
    assert parse_duration("12") == 12
    assert parse_duration(7) == 7
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration("5 minutes")
