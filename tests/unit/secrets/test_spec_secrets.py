"""Secrets in the spec, the plan and the activity that reads them."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError

from ferryman.build import run_step
from ferryman.errors import SpecError
from ferryman.plan.compile import compile_build, compile_plan
from ferryman.plan.models import StepPlan
from ferryman.platform.secrets import SecretSource, mask
from ferryman.spec.load import load_spec_text
from ferryman.temporal.activities.secrets import MISSING, read_secrets

SPEC = """\
system: shop
repos:
  app:
    source: ./app
    build:
      secrets: {PYPI_TOKEN: {env: SHOP_PYPI_TOKEN}}
      steps:
        - run: ./publish.sh
          secrets: {SIGNING_KEY: {file: keys/signing.pem}}
    outputs: ["dist/**"]
services:
  web:
    artifact: app
    run: python3 server.py
    env: {MODE: prod}
    secrets:
      DB_PASSWORD: {env: SHOP_DB_PASSWORD}
      API_KEY: {file: /run/secrets/api-key}
environments:
  dev:
    regions:
      local-1: {zones: [a]}
"""


def issues(text: str) -> list[str]:
    with pytest.raises(SpecError) as error:
        load_spec_text(text, "ferryman.yaml")
    return [str(issue) for issue in error.value.issues]


def test_the_plan_carries_where_each_secret_is_never_a_value(tmp_path: Path) -> None:
    spec = load_spec_text(SPEC, "ferryman.yaml")
    plan = compile_plan(spec, tmp_path / "ferryman.yaml", "dev", "v1")
    (service,) = plan.deploy.services
    assert service.secrets == {
        "DB_PASSWORD": SecretSource(env="SHOP_DB_PASSWORD"),
        "API_KEY": SecretSource(file="/run/secrets/api-key"),
    }
    assert service.env == {"MODE": "prod"}
    (node,) = compile_build(spec, tmp_path / "ferryman.yaml").nodes
    (step,) = node.steps
    assert step.secrets == {
        "PYPI_TOKEN": SecretSource(env="SHOP_PYPI_TOKEN"),
        "SIGNING_KEY": SecretSource(file=str(tmp_path / "keys" / "signing.pem")),
    }
    assert "PYPI_TOKEN" not in step.env


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("DB_PASSWORD: {env: SHOP_DB_PASSWORD}", "DB_PASSWORD: {env: A, file: b}"),
            "ferryman.yaml:17:20: services.web.secrets.DB_PASSWORD: "
            "a secret needs exactly one of 'env' or 'file'",
        ),
        (
            ("DB_PASSWORD: {env: SHOP_DB_PASSWORD}", "DB_PASSWORD: {env: 'NOT A VAR'}"),
            "ferryman.yaml:17:20: services.web.secrets.DB_PASSWORD: "
            "invalid environment variable name 'NOT A VAR'",
        ),
        (
            ("DB_PASSWORD: {env: SHOP_DB_PASSWORD}", "PORT: {env: SHOP_DB_PASSWORD}"),
            "ferryman.yaml:17:7: services.web.secrets: secret 'PORT': ferryman sets PORT itself",
        ),
        (
            ("DB_PASSWORD: {env: SHOP_DB_PASSWORD}", "MODE: {env: SHOP_DB_PASSWORD}"),
            "ferryman.yaml:13:5: services.web: secret 'MODE' is also in env: give it once",
        ),
        (
            ("SIGNING_KEY: {file", "1KEY: {file"),
            "ferryman.yaml:9:20: repos.app.build.steps[0].secrets: invalid secret name '1KEY'",
        ),
        (
            ("SIGNING_KEY: {file: keys/signing.pem}", "BAD: {}"),
            "ferryman.yaml:9:26: repos.app.build.steps[0].secrets.BAD: "
            "a secret needs exactly one of 'env' or 'file'",
        ),
    ],
)
def test_a_bad_secret_is_located(change: tuple[str, str], expected: str) -> None:
    found = issues(SPEC.replace(*change))
    assert len(found) == 1
    assert found[0].startswith(expected), found


def test_a_missing_secret_is_one_non_retryable_line_naming_it_and_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FERRYMAN_TEST_NO_SUCH_VAR", raising=False)
    with pytest.raises(ApplicationError) as unset:
        read_secrets({"DB_PASSWORD": SecretSource(env="FERRYMAN_TEST_NO_SUCH_VAR")})
    assert unset.value.message == (
        "secret 'DB_PASSWORD': environment variable FERRYMAN_TEST_NO_SUCH_VAR "
        "is not set on this worker"
    )
    assert unset.value.non_retryable and unset.value.type == MISSING
    missing = tmp_path / "nope.txt"
    with pytest.raises(ApplicationError, match=f"secret 'API_KEY': cannot read {missing}"):
        read_secrets({"API_KEY": SecretSource(file=str(missing))})
    (tmp_path / "key.txt").write_text("from-a-file\n")
    monkeypatch.setenv("FERRYMAN_TEST_SET_VAR", "from-env")
    assert read_secrets(
        {
            "A": SecretSource(file=str(tmp_path / "key.txt")),
            "B": SecretSource(env="FERRYMAN_TEST_SET_VAR"),
        }
    ) == {"A": "from-a-file", "B": "from-env"}


async def test_a_step_gets_its_secret_and_its_log_and_tail_show_it_masked(
    tmp_path: Path,
) -> None:
    value = "hunter2-" + "x" * 40
    step = StepPlan(
        name="use",
        run='printf "%s" "$TOKEN" | sha256sum | cut -c1-64 > out.sha\n'
        'echo "token=$TOKEN"\necho "half=${TOKEN:0:8}"; exit 3',
        secrets={"TOKEN": SecretSource(env="UNUSED")},
    )
    log = tmp_path / "logs" / "01.log"
    result = await run_step(step, tmp_path, log, secrets={"TOKEN": value})
    assert (tmp_path / "out.sha").read_text().strip() == hashlib.sha256(value.encode()).hexdigest()
    assert result.exit_code == 3
    text = log.read_text()
    assert "token=***" in text and value not in text
    assert "token=***" in result.tail and value not in result.tail
    again = await run_step(step, tmp_path, log, secrets={"TOKEN": "rotated"})
    assert again == result  # the recorded result: a rotated value is the same step


def test_mask_replaces_the_longest_value_first() -> None:
    assert mask("a-abc-abcd", ["abc", "abcd", ""]) == "a-***-***"


async def test_each_line_of_a_secret_of_several_lines_is_masked(tmp_path: Path) -> None:
    pem = "-----BEGIN KEY-----\nQUJDREVGR0hJSktMTU5PUA==\n-----END KEY-----"
    step = StepPlan(name="leak", run='echo "$KEY"', secrets={"KEY": SecretSource(env="UNUSED")})
    log = tmp_path / "logs" / "01.log"
    result = await run_step(step, tmp_path, log, secrets={"KEY": pem})
    assert result.exit_code == 0
    assert "QUJDREVGR0hJSktMTU5PUA==" not in log.read_text()
    assert "QUJDREVGR0hJSktMTU5PUA==" not in result.tail
