"""ferryman's public contracts: versioned, exported as JSON Schema, committed under docs/schemas.

The committed files are what other-language workers and clients are written
against: they must be exactly what the models generate (regenerate them with
``ferryman schema --out docs/schemas``), and real payloads must validate.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from ferryman.cli.app import _register, app
from ferryman.plan.compile import compile_plan
from ferryman.plan.custom_steps import ActivityPlan, CustomStepPlan
from ferryman.spec.load import load_spec
from ferryman.temporal.models.contracts import CONTRACTS, json_schema
from ferryman.temporal.models.custom import CompensatedStep, CustomStepInput, WebhookResult
from ferryman.temporal.models.release import ReleaseResult

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "docs" / "schemas"
REGENERATE = "regenerate with `ferryman schema --out docs/schemas`"


def committed(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SCHEMAS / CONTRACTS[name].file_name(name)).read_text())
    return data


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_the_committed_schema_is_what_the_model_generates(name: str) -> None:
    path = SCHEMAS / CONTRACTS[name].file_name(name)
    assert path.is_file(), f"{path} is missing: {REGENERATE}"
    assert committed(name) == json_schema(name), f"{path} is out of date: {REGENERATE}"


def test_no_stray_schema_files() -> None:
    expected = {entry.file_name(name) for name, entry in CONTRACTS.items()}
    assert {p.name for p in SCHEMAS.glob("*.json")} == expected


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_every_contract_is_versioned(name: str) -> None:
    schema = json_schema(name)
    version = CONTRACTS[name].version
    assert schema["title"] == f"ferryman.{CONTRACTS[name].model.__name__}.v{version}"
    assert schema["$id"].endswith(f"/{name}.v{version}.json")
    jsonschema.Draft202012Validator.check_schema(schema)


def test_a_step_payload_validates_against_the_committed_schema() -> None:
    payload = CustomStepInput(
        step="migrate-db",
        action="compensate",
        at="before-wave 1",
        release_id="release/shop/prod/7",
        system="shop",
        environment="prod",
        version="v42",
        versions={"web": "v42"},
        wave=1,
        key="release/shop/prod/7/step/migrate-db/1/compensate",
        input={"schema": "v41"},
        compensates=CompensatedStep(step="migrate-db", input={"schema": "v42"}, result={"ok": 1}),
    ).model_dump(mode="json")
    jsonschema.validate(payload, committed("custom-step-input"))
    for result in ({"passed": False, "message": "budget burnt", "p99": 310}, {}):
        jsonschema.validate(result, committed("custom-step-result"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"passed": "no"}, committed("custom-step-result"))
    answer = WebhookResult(method="POST", url="http://x", status=200, parsed={"ok": True})
    jsonschema.validate(answer.model_dump(mode="json"), committed("webhook-result"))


def test_a_plan_and_a_result_validate_against_theirs() -> None:
    spec_path = ROOT / "examples" / "hello" / "ferryman.yaml"
    plan = compile_plan(load_spec(spec_path), spec_path, "dev", "v1")
    call = ActivityPlan(name="s", task_queue="q")
    step = CustomStepPlan(name="s", at="before-environment", call=call, compensate=call)
    deploy = plan.deploy.model_copy(update={"steps": (step,)})
    data = plan.model_copy(update={"deploy": deploy}).model_dump(mode="json")
    assert data["schema_version"] == 1
    jsonschema.validate(data, committed("release-plan"))
    result = ReleaseResult(release_id="r", version="v1", status="succeeded")
    jsonschema.validate(result.model_dump(mode="json"), committed("release-result"))


def test_the_cli_lists_prints_and_writes_the_contracts(tmp_path: Path) -> None:
    _register()
    runner = CliRunner()
    listed = runner.invoke(app, ["schema", "--list"])
    assert listed.exit_code == 0
    assert "custom-step-input    v1  the one argument of a team's activity" in listed.output
    printed = runner.invoke(app, ["schema", "--json-schema", "custom-step-result"])
    assert printed.exit_code == 0 and json.loads(printed.output) == json_schema(
        "custom-step-result"
    )
    written = runner.invoke(app, ["schema", "--out", str(tmp_path / "schemas")])
    assert written.exit_code == 0 and "wrote 8 schemas" in written.output
    assert sorted(p.name for p in (tmp_path / "schemas").iterdir()) == sorted(
        p.name for p in SCHEMAS.glob("*.json")
    )
    unknown = runner.invoke(app, ["schema", "--json-schema", "step-input"])
    assert unknown.exit_code == 2
