"""ferryman's public contracts, by name: the models other programs exchange with it, as JSON Schema.

Each contract is a model and the direction it travels: what ferryman *sends*
(a team's step payload, a release's result) is described as it is serialised;
what ferryman *receives* (a step's result, a plan, a decision) as it is
validated. Titles carry the version (``ferryman.CustomStepInput.v1``); files are
``<name>.v<version>.json``. ``ferryman schema --out docs/schemas`` writes them
all, and a test checks that the committed files match.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from ferryman.approvals.policy import GateDecision
from ferryman.plan.models import ReleasePlan
from ferryman.temporal.models.custom import CustomStepInput, CustomStepResult, WebhookResult
from ferryman.temporal.models.region import Decision
from ferryman.temporal.models.release import ReleaseProgress, ReleaseResult

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
BASE_ID = "https://ferryman.dev/schemas/"


@dataclass(frozen=True)
class Contract:
    """One public model: what it is for, and which way it travels."""

    model: type[BaseModel]
    mode: Literal["validation", "serialization"]
    summary: str
    version: int = 1

    def file_name(self, name: str) -> str:
        """``custom-step-input.v1.json``."""
        return f"{name}.v{self.version}.json"


CONTRACTS: dict[str, Contract] = {
    "custom-step-input": Contract(
        CustomStepInput,
        "serialization",
        "the one argument of a team's activity (and a webhook's JSON body)",
    ),
    "custom-step-result": Contract(
        CustomStepResult,
        "validation",
        "what a team's activity may return (any JSON; passed: false fails the step)",
    ),
    "webhook-result": Contract(
        WebhookResult, "serialization", "a webhook step's result, as recorded"
    ),
    "release-plan": Contract(
        ReleasePlan, "validation", "the input of ReleaseWorkflow (ferryman.Release)"
    ),
    "release-result": Contract(
        ReleaseResult, "serialization", "the result of ReleaseWorkflow (ferryman.Release)"
    ),
    "release-progress": Contract(
        ReleaseProgress, "serialization", "the answer of the release's progress query"
    ),
    "gate-decision": Contract(
        GateDecision, "validation", "the argument of the release's decide Update"
    ),
    "decision": Contract(
        Decision, "validation", "the argument of rollback, pause, resume, abort and promote"
    ),
}


def json_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of the contract ``name``, with its versioned title and id.

    Raises:
        KeyError: No such contract.
    """
    contract = CONTRACTS[name]
    schema = contract.model.model_json_schema(mode=contract.mode)
    title = f"ferryman.{contract.model.__name__}.v{contract.version}"
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": BASE_ID + contract.file_name(name),
        **schema,
        "title": title,
    }
