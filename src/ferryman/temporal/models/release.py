"""Input views and results of ``ReleaseWorkflow`` and its Updates."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ferryman.plan.models import ReleasePlan
from ferryman.temporal.models.build import BuildResult
from ferryman.temporal.models.custom import StepBookState, StepView
from ferryman.temporal.models.gates import GateSnapshot
from ferryman.temporal.models.region import Decision, RegionResult, ServiceRollout


class _Msg(BaseModel):
    model_config = ConfigDict(frozen=True)


ReleasePhase = Literal[
    "pending",
    "build",
    "queued",
    "awaiting-approval",
    "deploy",
    "bake",
    "paused",
    "finalize",
    "rolling-back",
    "rolled-back",
    "aborted",
    "rejected",
    "done",
    "failed",
]
RegionState = Literal[
    "pending",
    "deploying",
    "switched",
    "unchanged",
    "finalizing",
    "live",
    "restoring",
    "restored",
    "failed",
]
ReleaseStatus = Literal["succeeded", "partial", "unchanged", "rolled-back", "aborted", "rejected"]
FINISHED_PHASES: frozenset[str] = frozenset(
    {"rolled-back", "aborted", "rejected", "done", "failed"}
)


class ReleaseEvent(_Msg):
    """One line of a release's progress log."""

    at: str
    message: str


class PromotionNote(_Msg):
    """A region of the release was promoted: by whom and why (logged in its events)."""

    region: str
    by: str
    reason: str = ""


class ReleaseProgress(_Msg):
    """The live state of a release, answered by the ``progress`` query.

    A compact copy (without the build nodes) is kept in the workflow's memo, so
    ``ferryman status`` can show where a release stands while no worker answers.
    """

    release_id: str
    system: str
    environment: str
    phase: ReleasePhase
    version: str = ""
    nodes: dict[str, str] = Field(default_factory=dict)
    waves: tuple[tuple[str, ...], ...] = ()
    regions: dict[str, RegionState] = Field(default_factory=dict)
    events: tuple[ReleaseEvent, ...] = ()
    router_urls: dict[str, str] = Field(default_factory=dict)
    error: str = ""
    waiting_for: str = Field(
        default="", description="What the release waits for (a lock, a person), and how to go on."
    )
    bake_until: str = Field(default="", description="When the current bake ends (ISO time).")
    steps: tuple[StepView, ...] = Field(
        default=(), description="Teams' steps (activities, webhooks): status, input, result."
    )
    schema_version: Literal[1] = Field(default=1, description="Version of this contract.")


class Paused(_Msg):
    """Why a rollout stopped and what resuming it does.

    Attributes:
        by: Who paused it (``ferryman`` when a failure did).
        reason: Why.
        wave: The wave it stopped in.
        retry: Regions of that wave that resuming switches again.
    """

    by: str
    reason: str
    wave: int = 0
    retry: tuple[str, ...] = ()


class ReleaseCarry(_Msg):
    """Everything a release knows, handed to its next run by continue-as-new.

    The compensation (every switched region's recorded state), the log and the
    lock survive, so a rollout that waits for days keeps its history small.
    """

    next_step: int
    phase: ReleasePhase
    version: str = ""
    nodes: dict[str, str] = Field(default_factory=dict)
    build: BuildResult | None = None
    rollouts: tuple[ServiceRollout, ...] = ()
    results: dict[str, RegionResult] = Field(default_factory=dict)
    touched: tuple[tuple[int, str], ...] = ()
    regions: dict[str, RegionState] = Field(default_factory=dict)
    events: tuple[ReleaseEvent, ...] = ()
    restored: tuple[str, ...] = ()
    routers: dict[str, str] = Field(default_factory=dict)
    lock_held: bool = False
    paused: Paused | None = None
    attempts: dict[str, int] = Field(default_factory=dict)
    runs: int = Field(default=1, description="Runs of this release so far (1 + continues).")
    decisions: tuple[Decision, ...] = ()
    gates: GateSnapshot = Field(default_factory=GateSnapshot)
    custom: StepBookState = Field(default_factory=StepBookState)


class ReleaseContinuation(_Msg):
    """The input of a release's next run after continue-as-new: its plan and what it knows."""

    plan: ReleasePlan
    carry: ReleaseCarry


class ReleaseResult(_Msg):
    """How a release ended (a failed release raises instead, after its compensation).

    The output of ``ReleaseWorkflow``, versioned (``schema_version``) as a contract.
    """

    schema_version: Literal[1] = Field(default=1, description="Version of this contract.")
    release_id: str
    version: str
    status: ReleaseStatus
    build: BuildResult | None = None
    regions: dict[str, RegionResult] = Field(default_factory=dict)
    router_urls: dict[str, str] = Field(default_factory=dict)
    error: str = ""
    steps: tuple[StepView, ...] = Field(default=(), description="Teams' steps and their results.")
