"""Teams' steps in the spec: their shape, their points, located errors, and the plan they make."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferryman.errors import SpecError
from ferryman.plan.compile import compile_plan
from ferryman.plan.custom_steps import ActivityPlan, WebhookPlan
from ferryman.spec.custom_steps import parse_step_point
from ferryman.spec.load import load_spec_text

HEAD = """\
system: shop
repos:
  app: {source: ., build: {steps: [{name: b, run: "true"}]}, outputs: [x]}
environments:
  prod:
    regions: {us: {zones: [a]}, eu: {zones: [a]}}
    steps:
"""


def issues(steps: str) -> list[str]:
    with pytest.raises(SpecError) as error:
        load_spec_text(HEAD + steps, "ferryman.yaml")
    return [str(issue) for issue in error.value.issues]


@pytest.mark.parametrize(
    ("at", "point"),
    [
        ("before-environment", ("before-environment", None)),
        ("before-wave 2", ("before-wave", 2)),
        ("after-wave  1", ("after-wave", 1)),
        ("during-bake", ("during-bake", None)),
        ("during-bake 3", ("during-bake", 3)),
        ("before-region", ("before-region", None)),
        ("after-region", ("after-region", None)),
        ("promotion", ("promotion", None)),
    ],
)
def test_points(at: str, point: tuple[str, int | None]) -> None:
    assert parse_step_point(at) == point


@pytest.mark.parametrize("at", ["before-wave", "after-wave 0", "before-region 1", "whenever", ""])
def test_bad_points(at: str) -> None:
    with pytest.raises(ValueError, match="invalid step point"):
        parse_step_point(at)


def test_a_full_activity_step_compiles_durations_and_its_compensation(tmp_path: Path) -> None:
    spec = load_spec_text(
        HEAD
        + "      - at: before-wave 1\n"
        + "        activity:\n"
        + "          name: migrate-db\n"
        + "          task-queue: payments-ops\n"
        + "          input: {schema: v42, tables: [a, b]}\n"
        + "          timeout: 10m\n"
        + "          retries: 3\n"
        + "          heartbeat: 30s\n"
        + "          worker-wait: 1m\n"
        + "          compensate: {name: rollback-db, input: {schema: v41}}\n",
        "ferryman.yaml",
    )
    plan = compile_plan(spec, tmp_path / "ferryman.yaml", "prod", "v1")
    (step,) = plan.deploy.steps
    assert (step.name, step.at, step.wave, step.point) == (
        "migrate-db",
        "before-wave",
        1,
        "before-wave 1",
    )
    assert step.call == ActivityPlan(
        name="migrate-db",
        task_queue="payments-ops",
        input={"schema": "v42", "tables": ["a", "b"]},
        timeout_s=600,
        retries=3,
        heartbeat_s=30,
        worker_wait_s=60,
    )
    assert isinstance(step.compensate, ActivityPlan)
    assert step.compensate.name == "rollback-db" and step.compensate.task_queue == "payments-ops"
    assert step.compensate.retries == 5 and step.compensate.input == {"schema": "v41"}


def test_a_webhook_step_keeps_where_secrets_are_never_their_values(tmp_path: Path) -> None:
    spec = load_spec_text(
        HEAD
        + "      - name: notify\n"
        + "        at: after-region\n"
        + "        regions: [eu]\n"
        + "        webhook:\n"
        + "          method: put\n"
        + "          url: https://hooks.example/deployed\n"
        + "          headers:\n"
        + "            Authorization: 'Bearer ${{ secrets.token }}'\n"
        + "            X-Key: '${{secrets.key}}'\n"
        + "          secrets: {token: {env: PAYMENTS_TOKEN}, key: {file: keys/hook.key}}\n"
        + "          expect: {status: 202, body: 'accepted'}\n"
        + "          timeout: 5s\n",
        "ferryman.yaml",
    )
    plan = compile_plan(spec, tmp_path / "ferryman.yaml", "prod", "v1")
    (step,) = plan.deploy.steps
    assert step.runs_in("eu") and not step.runs_in("us")
    call = step.call
    assert isinstance(call, WebhookPlan)
    assert (call.method, call.expect_status, call.expect_body, call.timeout_s) == (
        "PUT",
        (202,),
        "accepted",
        5,
    )
    assert call.secrets["token"].env == "PAYMENTS_TOKEN"
    assert call.secrets["key"].file == str((tmp_path / "keys" / "hook.key").resolve())
    assert call.headers["Authorization"] == "Bearer ${{ secrets.token }}"


def test_shape_errors_are_located() -> None:
    assert issues(
        "      - at: before-wave\n"
        "        activity: {name: a, task-queue: q}\n"
        "      - at: promotion\n"
        "        activity: {name: b, task-queue: q}\n"
        "        webhook: {url: 'http://x'}\n"
        "      - at: before-environment\n"
        "        regions: [eu]\n"
        "        activity: {name: c, task-queue: q}\n"
        "      - at: after-region\n"
        "        activity: {name: d, task-queue: q, timeout: soon}\n"
        "      - at: after-region\n"
        "        webhook: {url: 'http://x'}\n"
        "      - name: ftp\n"
        "        at: after-region\n"
        "        webhook: {url: 'ftp://x'}\n"
        "      - name: hook\n"
        "        at: after-region\n"
        "        webhook:\n"
        "          url: 'http://x'\n"
        "          headers: {A: '${{ secrets.nope }}'}\n"
    ) == [
        "ferryman.yaml:8:13: environments.prod.steps[0].at: invalid step point 'before-wave': "
        "use before-environment, before-wave N, after-wave N, during-bake [N], before-region, "
        "after-region or promotion",
        "ferryman.yaml:10:9: environments.prod.steps[1]: "
        "a step needs exactly one of 'activity' or 'webhook'",
        "ferryman.yaml:13:9: environments.prod.steps[2]: "
        "'regions' only goes with before-region, after-region or promotion",
        "ferryman.yaml:17:53: environments.prod.steps[3].activity.timeout: "
        "expected a duration such as 30s, 5m or 1h30m, got 'soon'",
        "ferryman.yaml:18:9: environments.prod.steps[4]: a webhook step needs a name",
        "ferryman.yaml:22:24: environments.prod.steps[5].webhook.url: "
        "a webhook URL is http:// or https://, got 'ftp://x'",
        "ferryman.yaml:26:11: environments.prod.steps[6].webhook: "
        "header 'A' uses secret 'nope', not in secrets",
    ]


def test_waves_regions_and_names_are_checked_against_the_environment() -> None:
    assert issues(
        "      - at: after-wave 3\n"
        "        activity: {name: migrate, task-queue: q}\n"
        "      - at: before-region\n"
        "        regions: [euu]\n"
        "        activity: {name: migrate, task-queue: q}\n"
    ) == [
        "ferryman.yaml:8:13: environments.prod.steps[0].at: wave 3 is beyond the 2 wave(s) of prod",
        "ferryman.yaml:11:19: environments.prod.steps[1].regions[0]: unknown region 'euu' "
        "(did you mean 'eu'?)",
        "ferryman.yaml:12:19: environments.prod.steps[1].activity: step 'migrate' already runs "
        "at steps[0]; give one of them its own name",
    ]
