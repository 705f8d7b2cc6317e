"""The contracts of teams' steps: what a worker receives and returns, and what ferryman records.

A team's worker, in any language, serves an activity that takes ONE argument,
the JSON object :class:`CustomStepInput` (``schema_version`` 1), and returns any
JSON value. The value is recorded as the step's result; an object with
``"passed": false`` (see :class:`CustomStepResult`) fails the step without an
error, which suits an analysis run during a bake. Raising an error fails it too
(after the step's retries, unless the error is non-retryable).

The same payload is the body of a webhook step (unless the spec gives ``body``).
JSON Schemas: ``ferryman schema --json-schema custom-step-input`` (and
``custom-step-result``), committed under ``docs/schemas/``.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from ferryman.plan.custom_steps import CallPlan, WebhookPlan
from ferryman.spec.custom_steps import StepPoint

SCHEMA_VERSION = 1


class _Msg(BaseModel):
    model_config = ConfigDict(frozen=True)


class ReleaseContext(_Msg):
    """Which release a step belongs to (the same for every step of one release)."""

    release_id: str
    system: str
    environment: str
    version: str = Field(default="", description="The release's version label.")
    versions: dict[str, str] = Field(
        default_factory=dict, description="Service → the version it is taken to."
    )


class CompensatedStep(_Msg):
    """The step a compensation undoes: what it was given and what it returned."""

    step: str
    input: dict[str, JsonValue] = Field(default_factory=dict)
    result: JsonValue = None


class CustomStepInput(_Msg):
    """The one argument of a team's activity (and the JSON body of a webhook), version 1."""

    model_config = ConfigDict(frozen=True, title="ferryman.CustomStepInput.v1")

    schema_version: Literal[1] = Field(
        default=1, description="1; a change that breaks readers gets a new version."
    )
    step: str = Field(description="The step's name in the spec.")
    action: Literal["run", "compensate"] = Field(
        default="run", description="`run` the step, or `compensate` it (a rollback undoes it)."
    )
    at: str = Field(description="Where it stands: `before-wave 2`, `after-region`, `promotion`…")
    release_id: str = Field(description="The release's workflow id.")
    system: str = Field(description="The system released.")
    environment: str = Field(description="The environment released to.")
    version: str = Field(default="", description="The release's version label.")
    versions: dict[str, str] = Field(
        default_factory=dict, description="Service → the version it is taken to."
    )
    region: str = Field(default="", description="The region, for region points; else empty.")
    wave: int | None = Field(default=None, description="The 1-based wave, for wave points.")
    key: str = Field(
        description="Idempotency key, the same on every retry of this call: a worker doing "
        "side effects does each key's once."
    )
    input: dict[str, JsonValue] = Field(
        default_factory=dict, description="The step's `input` from the spec."
    )
    compensates: CompensatedStep | None = Field(
        default=None, description="For `compensate`: the step's own input and result."
    )


class CustomStepResult(_Msg):
    """What a team's activity may return, version 1: any JSON value; this object to judge.

    Every field is optional and other keys are kept: the whole value is recorded.
    """

    model_config = ConfigDict(frozen=True, extra="allow", title="ferryman.CustomStepResult.v1")

    schema_version: Literal[1] = Field(default=1, description="1, if given.")
    passed: bool = Field(default=True, description="`false` fails the step.")
    message: str = Field(default="", description="Why, for people (shown and logged).")


def judge(result: JsonValue) -> tuple[bool, str]:
    """Whether a step's result passes it, and its message (``passed: false`` fails it).

    Only an object with ``"passed"`` is judged. Its ``passed`` must be a JSON
    boolean and its ``schema_version``, if given, 1: any other verdict (``null``
    from a Go ``*bool``, ``"no"``, a newer version) fails the step and says why,
    in the workflow, rather than stalling the release on a workflow-task error.
    A ``message`` that is not a string is ignored.
    """
    if not isinstance(result, dict):
        return True, ""
    message = result.get("message")
    text = message if isinstance(message, str) else ""
    if "passed" not in result:
        return True, text
    passed = result["passed"]
    version = result.get("schema_version", SCHEMA_VERSION)
    title = CustomStepResult.model_config.get("title")
    if not isinstance(passed, bool):
        shown = json.dumps(passed, sort_keys=True, default=str)
        return False, f'the result says "passed": {shown}, not true or false ({title})'
    if type(version) is not int or version != SCHEMA_VERSION:
        shown = json.dumps(version, sort_keys=True, default=str)
        return False, f"the result has schema_version {shown}; ferryman reads {title}"
    return passed, text


class WebhookInput(_Msg):
    """The argument of ferryman's ``ferryman.webhook`` activity: the call and its payload."""

    call: WebhookPlan
    payload: CustomStepInput


class WebhookResult(_Msg):
    """How a webhook answered (recorded as the step's result; never the request's headers)."""

    model_config = ConfigDict(frozen=True, title="ferryman.WebhookResult.v1")

    schema_version: Literal[1] = 1
    method: str
    url: str
    status: int
    body: str = Field(default="", description="The answer's first 2,000 characters.")
    parsed: JsonValue = Field(default=None, description="The answer parsed, when it is JSON.")
    elapsed_s: float = 0.0


StepStatus = Literal[
    "running",
    "waiting-for-worker",
    "succeeded",
    "failed",
    "compensating",
    "compensated",
    "compensation-failed",
]


class StepView(_Msg):
    """Where one team's step stands, in the release's progress (and memo).

    Attributes:
        name: The step.
        at: Its point, as the spec writes it.
        region: The region, for region points.
        kind: ``activity`` or ``webhook``.
        target: ``migrate-db on payments-ops`` or ``POST https://…``.
        status: Where it stands.
        input: The spec's input for it.
        result: What it returned (a webhook: its answer).
        error: Why it failed.
        waiting: ``waiting for a worker on <queue>`` while no worker has picked it up.
        since: When the status began (ISO time).
    """

    name: str
    at: str
    region: str = ""
    kind: Literal["activity", "webhook"] = "activity"
    target: str = ""
    status: StepStatus = "running"
    input: dict[str, JsonValue] = Field(default_factory=dict)
    result: JsonValue = None
    error: str = ""
    waiting: str = ""
    since: str = ""

    @property
    def key(self) -> str:
        """Unique in a release: the step's name, point and region."""
        return f"{self.name}@{self.at}@{self.region}"


class StepRecord(_Msg):
    """A step that succeeded, with what undoes it: the step's part of the saga.

    Attributes:
        name: The step.
        at: Its kind of point.
        point: Its point, as the spec writes it.
        region: The region, for region points.
        wave: Its 1-based wave, if any.
        position: For release points, how many regions the release had touched when it
            finished (its place among the region restores).
        key: The idempotency key its call had.
        input: The spec's input for it.
        result: What it returned.
        compensate: What undoes it (None: nothing to undo).
    """

    name: str
    at: StepPoint
    point: str
    region: str = ""
    wave: int | None = None
    position: int = 0
    key: str
    input: dict[str, JsonValue] = Field(default_factory=dict)
    result: JsonValue = None
    compensate: CallPlan | None = None


class StepBookState(_Msg):
    """The release's steps, carried over by continue-as-new."""

    views: tuple[StepView, ...] = ()
    done: tuple[StepRecord, ...] = ()
