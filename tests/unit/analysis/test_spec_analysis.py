"""``analysis.templates`` YAML: validation with one-line errors, and conversion to the plan."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from ruamel.yaml import YAML

from ferryman.analysis import (
    AnalysisQuery,
    MannWhitneyConfig,
    SequentialConfig,
    TemplatePlan,
    ThresholdConfig,
    count_queries,
    render_query,
)
from ferryman.metrics.base import MetricQuery
from ferryman.spec.analysis import AnalysisSpec, to_plan, to_plans
from ferryman.spec.load import _plain

TEXT = """\
analysis:
  templates:
    error-rate:
      metrics:
        - name: errors
          source: local
          query: {kind: error_rate, matchers: {service: web}}
          judge: {sequential: {alpha: 0.01, margin: 0.005}}
        - name: p50
          source: local
          query: {kind: latency, quantile: 0.5}
          judge: {sequential: {margin: 0.1}}
        - name: ratio
          source: prometheus
          query: 'sum(rate(x{version="{{version}}"}[1m]))'
          judge: {threshold: {success-condition: "result < 0.01", failure-limit: 2}}
          interval-seconds: 60
        - name: p99
          source: prometheus
          query: {kind: latency, quantile: 0.99}
          judge:
            mann-whitney: {direction: increase, critical: true, allowed-increase: 1.1,
                           group: latency}
      interval-seconds: 10
      count: 30
      no-data: fail
      score: {pass: 80, marginal: 60, groups: {latency: 1}}
"""


def load(text: str) -> dict[str, Any]:
    data: dict[str, Any] = _plain(YAML(typ="rt").load(text), {})
    return data


def analysis(text: str = TEXT) -> AnalysisSpec:
    return AnalysisSpec.model_validate(load(text)["analysis"])


def test_yaml_loads_and_converts_to_the_plan() -> None:
    plans = to_plans(analysis())
    plan = plans["error-rate"]
    errors, p50, ratio, p99 = plan.metrics
    assert plan.no_data == "fail"
    assert plan.score.pass_score == 80 and plan.score.group_weights == {"latency": 1}
    assert isinstance(errors.judge, SequentialConfig)
    assert errors.judge.test == "rates" and errors.judge.margin == 0.005
    assert (errors.interval_s, errors.count, errors.judge.count) == (10, 30, 30)
    assert errors.query == AnalysisQuery(kind="error_rate", matchers={"service": "web"})
    assert isinstance(p50.judge, SequentialConfig) and p50.judge.test == "latency"
    assert isinstance(ratio.judge, ThresholdConfig)
    assert ratio.judge.failure_limit == 2 and ratio.judge.interval_s == 60
    assert isinstance(p99.judge, MannWhitneyConfig)
    assert p99.judge.critical and p99.judge.allowed_increase == 1.1


def test_plan_round_trips_through_json() -> None:
    plan = to_plan("error-rate", analysis().templates["error-rate"])
    again = TemplatePlan.model_validate_json(plan.model_dump_json())
    assert again == plan


def test_queries_render_placeholders_and_split_into_counts() -> None:
    plan = to_plans(analysis())["error-rate"]
    promql = render_query(plan.metrics[2].query, {"version": "v2"})
    assert promql == 'sum(rate(x{version="v2"}[1m]))'
    query = AnalysisQuery(kind="error_rate", matchers={"version": "{{ version }}"})
    rendered = render_query(query, {"version": "v1"})
    assert isinstance(rendered, AnalysisQuery) and rendered.matchers == {"version": "v1"}
    requests, errors = count_queries(query)
    assert (requests.kind, errors.kind) == ("requests", "errors")
    assert MetricQuery.model_validate(rendered.model_dump()).matchers == {"version": "v1"}


def one_error(text: str) -> str:
    with pytest.raises(ValidationError) as caught:
        analysis(text)
    errors = caught.value.errors()
    assert len(errors) == 1, errors
    message = str(errors[0]["ctx"]["error"]) if "ctx" in errors[0] else errors[0]["msg"]
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        ('"result < 0.01"', '"result.__class__ < 1"', "attribute access is not allowed"),
        ("{threshold: {success-condition:", "{threshold: {succes-condition:", "Extra inputs"),
        (
            "judge: {sequential: {margin: 0.1}}",
            "judge: {sequential: {margin: 0.1}, threshold: {success-condition: 'true'}}",
            "exactly one judge",
        ),
        ("{{version}}", "{{colour}}", "unknown placeholder {{colour}}"),
        (
            "source: prometheus\n          query: 'sum",
            "source: local\n          query: 'sum",
            "not PromQL",
        ),
        ("name: p50", "name: errors", "'errors' appears more than once"),
        ("groups: {latency: 1}", "groups: {other: 1}", "no weight to group 'latency'"),
        ("pass: 80, marginal: 60", "pass: 50, marginal: 60", "must not be above pass"),
        ("{kind: latency, quantile: 0.5}", "{kind: request_rate}", "sequential judge needs"),
    ],
)
def test_mistakes_give_one_line_errors(old: str, new: str, words: str) -> None:
    assert TEXT.count(old) == 1, old
    assert words in one_error(TEXT.replace(old, new))


def test_template_names_are_checked() -> None:
    assert "invalid name 'Error_Rate'" in one_error(TEXT.replace("error-rate:", "Error_Rate:"))
