"""Teams' steps in the plan (pure): calls resolved once, and where each one runs.

``compile_steps`` turns ``environments.<env>.steps`` into ``CustomStepPlan`` s:
durations in seconds, secrets reduced to where a worker reads them (never their
values), relative secret files resolved against the spec's directory.

Release points (``before-environment``, ``before-wave N``, ``after-wave N``,
``during-bake``) become release steps (``ferryman.plan.release``); region points
(``before-region``, ``after-region``, ``promotion``) travel with each region
deploy (``for_region``), and :func:`promotes` says which region step is the
promotion a ``promotion`` step stands before.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from ferryman.deploy.steps import HOLDS, SetRoutes, Step
from ferryman.plan.secrets import secret_sources
from ferryman.platform.secrets import SecretSource
from ferryman.spec.custom_steps import (
    REGION_POINTS,
    ActivityCall,
    ActivityCompensation,
    CustomStep,
    HttpCall,
    StepPoint,
)
from ferryman.spec.secrets import SecretRef


class _Plan(BaseModel):
    model_config = ConfigDict(frozen=True)


class ActivityPlan(_Plan):
    """Call the activity ``name`` on ``task_queue`` (untyped: a worker in any language)."""

    kind: Literal["activity"] = "activity"
    name: str
    task_queue: str
    input: dict[str, JsonValue] = Field(default_factory=dict)
    timeout_s: float = 600.0
    retries: int = 2
    heartbeat_s: float | None = None
    worker_wait_s: float = Field(
        default=30.0, description="Report 'waiting for a worker' after this long (and go on)."
    )

    @property
    def target(self) -> str:
        """Where the call goes, for people."""
        return f"{self.name} on {self.task_queue}"


SecretPlan = SecretSource
"""Where a worker reads a secret (the platform's ``SecretSource``; kept under this name)."""


class WebhookPlan(_Plan):
    """An HTTP call made by ferryman's ``ferryman.webhook`` activity."""

    kind: Literal["webhook"] = "webhook"
    method: str = "POST"
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    secrets: dict[str, SecretPlan] = Field(default_factory=dict)
    input: dict[str, JsonValue] = Field(default_factory=dict)
    body: JsonValue | None = None
    expect_status: tuple[int, ...] = Field(default=(), description="Empty: any 2xx.")
    expect_body: str | None = None
    timeout_s: float = 30.0
    retries: int = 0

    @property
    def target(self) -> str:
        """Where the call goes, for people."""
        return f"{self.method} {self.url}"


CallPlan = Annotated[ActivityPlan | WebhookPlan, Field(discriminator="kind")]


class CustomStepPlan(_Plan):
    """A team's step, resolved: what it calls, where it stands, what undoes it.

    Attributes:
        name: Unique in the environment.
        at: The kind of point; ``wave`` is 1-based for wave points (and ``during-bake``
            of one wave; None there: every wave's bake).
        regions: For region points, the regions it runs in (empty: every region).
        call: The activity or webhook.
        compensate: What undoes it during a rollback, if it had succeeded.
    """

    name: str
    at: StepPoint
    wave: int | None = None
    regions: tuple[str, ...] = ()
    call: CallPlan
    compensate: CallPlan | None = None

    @property
    def point(self) -> str:
        """Where the step stands, as the spec writes it (``before-wave 2``)."""
        return self.at if self.wave is None else f"{self.at} {self.wave}"

    @property
    def in_regions(self) -> bool:
        """Whether each region deploy runs it (else the release runs it once)."""
        return self.at in REGION_POINTS

    def runs_in(self, region: str) -> bool:
        """Whether a region deploy of ``region`` runs this step."""
        return self.in_regions and (not self.regions or region in self.regions)


def _secrets(secrets: dict[str, SecretRef], spec_dir: Path) -> dict[str, SecretPlan]:
    return secret_sources(secrets, spec_dir)


def _webhook(call: HttpCall, spec_dir: Path) -> WebhookPlan:
    return WebhookPlan(
        method=call.method,
        url=call.url,
        headers=dict(call.headers),
        secrets=_secrets(call.secrets, spec_dir),
        input=dict(call.input),
        body=call.body,
        expect_status=call.expect.status,
        expect_body=call.expect.body,
        timeout_s=call.timeout,
        retries=call.retries,
    )


def _activity(call: ActivityCall | ActivityCompensation, queue: str) -> ActivityPlan:
    wait = call.worker_wait if isinstance(call, ActivityCall) else 30.0
    return ActivityPlan(
        name=call.name,
        task_queue=call.task_queue or queue,
        input=dict(call.input),
        timeout_s=call.timeout,
        retries=call.retries,
        heartbeat_s=call.heartbeat,
        worker_wait_s=wait,
    )


def compile_step(step: CustomStep, spec_dir: Path) -> CustomStepPlan:
    """One spec step as the workflows run it."""
    at, wave = step.point
    call: CallPlan
    compensate: CallPlan | None = None
    if step.activity is not None:
        call = _activity(step.activity, step.activity.task_queue)
        if step.activity.compensate is not None:
            compensate = _activity(step.activity.compensate, step.activity.task_queue)
    else:
        assert step.webhook is not None
        call = _webhook(step.webhook, spec_dir)
        if step.webhook.compensate is not None:
            compensate = _webhook(step.webhook.compensate, spec_dir)
    return CustomStepPlan(
        name=step.step_name,
        at=at,
        wave=wave,
        regions=step.regions,
        call=call,
        compensate=compensate,
    )


def compile_steps(steps: tuple[CustomStep, ...], spec_dir: Path) -> tuple[CustomStepPlan, ...]:
    """An environment's steps, in the order the spec lists them."""
    return tuple(compile_step(step, spec_dir) for step in steps)


def for_region(steps: tuple[CustomStepPlan, ...], region: str) -> tuple[CustomStepPlan, ...]:
    """The steps a deploy of ``region`` runs (before-region, after-region, promotion)."""
    return tuple(step for step in steps if step.runs_in(region))


def promotes(step: Step, version: str) -> bool:
    """Whether ``step`` promotes ``version``: gives it user traffic, or holds for a person.

    A ``promotion`` custom step runs once, before the first such step of a region's
    switch: the new version is healthy (and previewed, smoke-tested) by then, and no
    user has reached it yet.
    """
    if isinstance(step, SetRoutes):
        return step.routes.weights.get(version, 0) > 0
    return isinstance(step, HOLDS)
