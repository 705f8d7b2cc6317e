"""Gates in the spec (located errors), compiled into the plan, placed among the release steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferryman.errors import PlanError, SpecError
from ferryman.identity.models import Directory
from ferryman.identity.tokens import hash_token
from ferryman.plan.compile import compile_plan
from ferryman.plan.release import BuildStep, DeployWave, Finalize, Gate, release_steps
from ferryman.spec.load import load_spec_text

DIRECTORY = Directory.model_validate(
    {
        "users": {n: {"token": hash_token("x")} for n in ("alice", "bob", "carol")},
        "groups": {"release-managers": ["alice", "bob"], "sre": ["carol"]},
    }
)

HEAD = """\
system: shop
repos:
  app: {source: ., build: {steps: [{name: b, run: "true"}]}, outputs: [x]}
environments:
  prod:
    regions: {us: {zones: [a]}, eu: {zones: [a]}}
    gates:
"""


def issues(gates: str, directory: Directory | None = DIRECTORY) -> list[str]:
    with pytest.raises(SpecError) as error:
        load_spec_text(HEAD + gates, "ferryman.yaml", directory)
    return [str(issue) for issue in error.value.issues]


def test_unknown_users_and_groups_are_located_errors() -> None:
    assert issues(
        "      go-live: {at: promotion, approvers: [release-managerz, alice]}\n"
        "      late:\n"
        "        at: after-wave 2\n"
        "        approvers: [bob]\n"
        "        timeout: 1h\n"
        "        on-timeout: escalate\n"
        "        escalate-to: [sr]\n"
    ) == [
        "ferryman.yaml:8:44: environments.prod.gates.go-live.approvers[0]: "
        "unknown user or group 'release-managerz' (did you mean 'release-managers'?)",
        "ferryman.yaml:14:23: environments.prod.gates.late.escalate-to[0]: "
        "unknown user or group 'sr' (did you mean 'sre'?)",
    ]


def test_without_a_config_names_are_not_checked_but_the_rest_is() -> None:
    spec = load_spec_text(
        HEAD + "      go-live: {at: promotion, approvers: [nobody-known]}\n", "f.yaml", None
    )
    assert spec.environments["prod"].gates["go-live"].approvers == ("nobody-known",)


def test_bad_points_waves_regexes_durations_and_clashes() -> None:
    found = issues(
        "      a: {at: before-environment, approvers: [alice]}\n"
        "      b: {at: before-wave 1, approvers: [alice]}\n"
        "      c: {at: after-wave 3, approvers: [alice]}\n"
        "      d: {at: whenever, approvers: [alice]}\n"
        "      e: {at: after-wave 1, approvers: [alice], inputs: {t: {pattern: '[a-'}}}\n"
        "      f: {at: before-wave 2, approvers: [alice], timeout: soon}\n"
        "      g: {at: promotion, approvers: [alice], required: 3}\n"
        "      h: {at: after-wave 2, approvers: [alice], on-timeout: escalate, timeout: 5m}\n"
    )
    assert found == [
        "ferryman.yaml:9:15: environments.prod.gates.b.at: gate 'a' already stands at this "
        "point (before-environment is before wave 1)",
        "ferryman.yaml:10:15: environments.prod.gates.c.at: wave 3 is beyond the 2 wave(s) of prod",
        "ferryman.yaml:11:15: environments.prod.gates.d.at: invalid gate point 'whenever': use "
        "before-environment, before-wave N, after-wave N or promotion",
        "ferryman.yaml:12:71: environments.prod.gates.e.inputs.t.pattern: invalid regex '[a-': "
        "unterminated character set at position 0",
        "ferryman.yaml:13:59: environments.prod.gates.f.timeout: invalid duration 'soon': use "
        "e.g. 90s, 15m, 1h30m, 2d or a number of seconds",
        "ferryman.yaml:14:56: environments.prod.gates.g.required: required 3 but only 1 "
        "approver(s): alice",
        "ferryman.yaml:15:10: environments.prod.gates.h: on-timeout: escalate needs escalate-to "
        "(users or groups)",
    ]


SPEC = HEAD + (
    "      go-live:\n"
    "        at: before-environment\n"
    "        approvers: [release-managers, carol]\n"
    "        required: 2\n"
    "        timeout: 1h30m\n"
    "        on-timeout: escalate\n"
    "        escalate-to: [sre]\n"
    "        instructions: look first\n"
    "        inputs: {ticket: {pattern: 'CHG-[0-9]+', required: true}}\n"
    "        channel: '#releases'\n"
    "      check-us: {at: after-wave 1, approvers: [bob]}\n"
    "      promote: {at: promotion, approvers: [alice], allow-self-approval: true}\n"
)


def test_gates_compile_with_groups_resolved_and_durations_in_seconds(tmp_path: Path) -> None:
    spec = load_spec_text(SPEC, "ferryman.yaml", DIRECTORY)
    plan = compile_plan(
        spec, tmp_path / "ferryman.yaml", "prod", directory=DIRECTORY, requested_by="alice"
    )
    assert plan.requested_by == "alice"
    go_live = plan.deploy.gate_at("before-environment")
    assert go_live is not None
    assert go_live.approvers == ("alice", "bob", "carol")
    assert go_live.approvers_as_written == ("release-managers", "carol")
    assert go_live.timeout_s == 5400 and go_live.escalate_to == ("carol",)
    assert go_live.inputs["ticket"].pattern == "CHG-[0-9]+"
    assert go_live.channel == "#releases"
    promote = plan.deploy.gate_at("promotion")
    assert promote is not None and promote.allow_self_approval
    steps = release_steps(plan.deploy)
    check_us = plan.deploy.gate_at("after-wave", 1)
    assert steps == [
        BuildStep(),
        Gate(gate=go_live),
        DeployWave(wave=0, regions=("us",)),
        Gate(gate=check_us),
        DeployWave(wave=1, regions=("eu",)),
        Finalize(regions=("us", "eu")),
    ]


def test_gates_need_a_config_to_compile(tmp_path: Path) -> None:
    spec = load_spec_text(SPEC, "ferryman.yaml", DIRECTORY)
    with pytest.raises(PlanError, match=r"has gates .* but there is no ferryman config"):
        compile_plan(spec, tmp_path / "ferryman.yaml", "prod")


def test_a_preview_without_a_config_keeps_approvers_as_written(tmp_path: Path) -> None:
    spec = load_spec_text(SPEC, "ferryman.yaml", DIRECTORY)
    plan = compile_plan(spec, tmp_path / "ferryman.yaml", "prod", preview=True)
    go_live = plan.deploy.gate_at("before-environment")
    assert go_live is not None
    assert go_live.approvers == ("release-managers", "carol") == go_live.approvers_as_written
