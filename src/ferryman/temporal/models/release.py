"""Input views and results of ``ReleaseWorkflow`` and its Updates."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ferryman.temporal.models.build import BuildResult
from ferryman.temporal.models.region import RegionResult


class _Msg(BaseModel):
    model_config = ConfigDict(frozen=True)


ReleasePhase = Literal[
    "pending",
    "build",
    "awaiting-approval",
    "deploy",
    "bake",
    "finalize",
    "rolling-back",
    "rolled-back",
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
ReleaseStatus = Literal["succeeded", "unchanged", "rolled-back", "rejected"]
FINISHED_PHASES: frozenset[str] = frozenset({"rolled-back", "rejected", "done", "failed"})


class ReleaseEvent(_Msg):
    """One line of a release's progress log."""

    at: str
    message: str


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


class ReleaseResult(_Msg):
    """How a release ended (a failed release raises instead, after its compensation)."""

    release_id: str
    version: str
    status: ReleaseStatus
    build: BuildResult | None = None
    regions: dict[str, RegionResult] = Field(default_factory=dict)
    router_urls: dict[str, str] = Field(default_factory=dict)
    error: str = ""
