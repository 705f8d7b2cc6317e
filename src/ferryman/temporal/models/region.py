"""Inputs, results and views of ``RegionDeployWorkflow`` and of its provider activities."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ferryman.deploy.steps import PreviewMatch, Recorded, SmokeCheck, Step, Target
from ferryman.plan.custom_steps import CustomStepPlan
from ferryman.plan.models import GatePlan, ServicePlan
from ferryman.platform.models import DataPlane, InstanceRequest, RouteTable
from ferryman.temporal.models.custom import ReleaseContext, StepRecord


class _Msg(BaseModel):
    model_config = ConfigDict(frozen=True)


# --- provider activities --------------------------------------------------------------------


class Where(_Msg):
    """Which provider serves a call: a platform, for one environment."""

    platform: str
    environment: str


class StateInput(Where):
    """Read what a region runs for one service."""

    region: str
    service: str


class PrepareInput(Where):
    """Start instances of a version in a zone from a built bundle."""

    key: str
    request: InstanceRequest


class HealthInput(Where):
    """Wait until every instance of a version in a zone is healthy."""

    region: str
    zone: str
    service: str
    version: str
    timeout_s: float
    interval_s: float = 0.5


class TrafficInput(Where):
    """Replace a region's routes for a service."""

    key: str
    region: str
    routes: RouteTable


class StageInput(Where):
    """Phase 1 of a zonal switch: stage a service's table in every zone router of a region."""

    key: str
    region: str
    zones: tuple[str, ...]
    routes: RouteTable


class CommitInput(Where):
    """Phase 2 of a zonal switch: every zone router serves the staged generation."""

    key: str
    region: str
    generation: int


class RetireInput(Where):
    """Stop a version's instances in a zone."""

    key: str
    region: str
    zone: str
    service: str
    version: str


class SmokeInput(Where):
    """HTTP checks against one version of a service through a region's router."""

    region: str
    service: str
    version: str
    checks: tuple[SmokeCheck, ...]
    match: PreviewMatch | None = None


class ArtifactCheck(_Msg):
    """One artifact a region deploy is about to start, and what it runs as."""

    service: str
    version: str
    digest: str


class VerifyInput(Where):
    """Verify artifacts' digests and signed provenance before any of them starts."""

    region: str
    artifacts: tuple[ArtifactCheck, ...]


class VerifiedArtifact(_Msg):
    """An artifact that verified: the key that signed it and the source commit it names."""

    service: str
    digest: str
    key: str
    node: str
    commit: str


# --- the workflow ----------------------------------------------------------------------------

RegionAction = Literal["switch", "finalize", "restore"]
"""``switch`` takes the region to the new versions (old ones stay warm); ``finalize``
retires what the switch left warm; ``restore`` puts back what the switch recorded."""

ServiceStatus = Literal["switched", "unchanged", "finalized", "restored", "rolled-back"]
RegionStatus = ServiceStatus


class ServiceRollout(_Msg):
    """One service to take to ``version`` in a region."""

    service: ServicePlan
    version: str
    artifact_digest: str


class ServiceOutcome(_Msg):
    """What a region deploy did to one service, and what is left to do.

    Attributes:
        target: The version the service was taken to.
        recorded: What the region ran before: the compensation.
        done: Steps carried out, switch and finalize alike.
        finalize: Steps still to run when the release commits.
    """

    service: str
    status: ServiceStatus
    target: Target
    recorded: Recorded
    done: tuple[Step, ...] = ()
    finalize: tuple[Step, ...] = ()


class RegionResult(_Msg):
    """How a region deploy ended, with every service's recorded state."""

    region: str
    status: RegionStatus
    services: tuple[ServiceOutcome, ...] = ()
    router_url: str = ""
    reason: str = ""
    steps: tuple[StepRecord, ...] = Field(
        default=(), description="Teams' region steps that succeeded (their compensation)."
    )

    @property
    def versions(self) -> dict[str, str]:
        """Service → the version it was taken to."""
        return {outcome.service: outcome.target.version for outcome in self.services}


class RegionDeployRequest(_Msg):
    """Input of ``RegionDeployWorkflow``.

    Attributes:
        action: What to do (see :data:`RegionAction`).
        services: For ``switch``: the services, switched in this order.
        finalize_now: For ``switch``: retire old versions at once (keep none warm).
        previous: For ``finalize`` and ``restore``: the switch's result.
        attempt: 0 for the first switch; a resumed rollout switches a region again
            under new idempotency keys.
        promotion_gate: For ``switch``: the policy of its held promotion (None: anyone
            may promote).
        requested_by: Who started the release (separation of duties).
        data_plane: ``regional`` (one route swap) or ``zonal`` (a router per zone,
            switched by a two-phase commit).
        steps: For ``switch``: the teams' steps this region runs (before-region,
            promotion, after-region).
        context: The release the steps belong to (their payload's context).
    """

    release_id: str
    platform: str
    environment: str
    region: str
    zones: tuple[str, ...]
    action: RegionAction = "switch"
    services: tuple[ServiceRollout, ...] = ()
    finalize_now: bool = False
    previous: RegionResult | None = None
    attempt: int = Field(default=0, ge=0, description="Retries of this switch (keys differ).")
    promotion_gate: GatePlan | None = None
    requested_by: str = ""
    data_plane: DataPlane = "regional"
    steps: tuple[CustomStepPlan, ...] = ()
    context: ReleaseContext | None = None


class Decision(_Msg):
    """Who asked for a promote or rollback, and why (kept in history for audit)."""

    by: str = "unknown"
    reason: str = ""


# --- views -----------------------------------------------------------------------------------

ZoneStatus = Literal[
    "pending", "starting", "started", "healthy", "unhealthy", "live", "rolled-back", "restored"
]
ServicePhase = Literal[
    "pending",
    "recording",
    "unchanged",
    "prepare",
    "await-healthy",
    "set-routes",
    "smoke",
    "await-promotion",
    "pause",
    "keep-warm",
    "retire",
    "hold",
    "analyze",
    "experiment",
    "switched",
    "finalized",
    "rolling-back",
    "rolled-back",
    "restored",
]
RegionPhase = Literal[
    "pending", "deploying", "awaiting-promotion", "paused", "rolling-back", "done", "failed"
]


class ZoneView(_Msg):
    """Versions running in one zone and the deploy's status there."""

    zone: str
    status: ZoneStatus
    versions: tuple[str, ...] = ()


class ServiceView(_Msg):
    """Where a service's deploy in a region stands."""

    service: str
    version: str
    phase: ServicePhase
    weights: dict[str, int] = Field(default_factory=dict)
    zones: tuple[ZoneView, ...] = ()
    step: str = Field(default="", description="The step under way, in a few words.")
    error: str = ""
    analysis: str = Field(default="", description="The latest analysis verdict and its reason.")


class RegionProgress(_Msg):
    """Answer of the ``progress`` query of a region deploy."""

    region: str
    action: RegionAction = "switch"
    phase: RegionPhase
    services: tuple[ServiceView, ...] = ()
    router_url: str = ""
