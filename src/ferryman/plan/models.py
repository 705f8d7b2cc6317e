"""The compiled release plan: what the workflows interpret.

A ``ReleasePlan`` is pure data derived from a ``Spec`` and a release request.
Workflows never re-read the spec; everything they need is here, with sources
resolved to absolute paths or URLs and durations in seconds.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ferryman.deploy.strategies import ReplaceOptions, StrategyOptions
from ferryman.plan.custom_steps import CustomStepPlan
from ferryman.platform.models import DataPlane
from ferryman.platform.secrets import SecretSource


class _Plan(BaseModel):
    model_config = ConfigDict(frozen=True)


class StepPlan(_Plan):
    """One build step, resolved."""

    name: str
    run: str
    env: dict[str, str] = Field(default_factory=dict)
    secrets: dict[str, SecretSource] = Field(
        default_factory=dict, description="Read by the build worker when the step runs."
    )
    working_directory: str = "."
    timeout_s: float = 1800.0
    shell: str = "bash"


class BuildNode(_Plan):
    """One unit of build work: a repo × matrix leg."""

    id: str
    repo: str
    matrix: dict[str, str] = Field(default_factory=dict, description="This leg's axis values.")
    source: str = Field(description="Absolute local path or git URL.")
    ref: str | None = None
    steps: tuple[StepPlan, ...]
    outputs: tuple[str, ...]
    needs: tuple[str, ...] = ()
    runs_on: str = Field(
        default="",
        description=(
            "Platform whose own workers build this node (a ``platform`` matrix value);"
            " empty: any build worker."
        ),
    )
    expected_duration_s: float | None = Field(
        default=None, description="Last measured duration, for priorities; None if unknown."
    )


class BuildPlan(_Plan):
    """The nodes to build, in a valid topological order, and how to schedule them."""

    nodes: tuple[BuildNode, ...]
    max_parallel: int | None = Field(default=None, description="Nodes running at once.")
    repo_limits: dict[str, int] = Field(default_factory=dict, description="Repo → its limit.")
    fail_fast: bool = True
    prefetch: int = Field(
        default=0,
        ge=0,
        description=(
            "Nodes handed to the build queue beyond max_parallel, so a worker slot that frees "
            "up starts the next node without waiting for the workflow; use it only when the "
            "workers' slots equal max_parallel (they then bound what really runs)."
        ),
    )
    use_cache: bool = True
    builder_id: str = "https://ferryman.dev/builder/local"
    prebuilt: dict[str, str] = Field(
        default_factory=dict,
        description="Node id → bundle digest of nodes left out of this build (--changed-since).",
    )


class HealthPlan(_Plan):
    """Readiness check for instances of a service."""

    path: str = "/healthz"
    status: int = 200
    timeout_s: float = 30.0
    interval_s: float = 0.5


class ServicePlan(_Plan):
    """How to run one service from a built artifact."""

    name: str
    artifact_node: str = Field(description="Id of the build node whose outputs are run.")
    command: str
    env: dict[str, str] = Field(default_factory=dict)
    secrets: dict[str, SecretSource] = Field(
        default_factory=dict, description="Read by the region's worker when an instance starts."
    )
    health: HealthPlan = Field(default_factory=HealthPlan)
    replicas: int = 1
    strategy: StrategyOptions = Field(
        default_factory=ReplaceOptions, description="How the new version replaces the old one."
    )


class RegionPlan(_Plan):
    """A region and its zones, in deploy order, and the shape of its data plane."""

    name: str
    zones: tuple[str, ...]
    data_plane: DataPlane = "regional"


class WavePlan(_Plan):
    """Regions deployed together; the next wave starts once this one baked."""

    regions: tuple[str, ...]
    bake_s: float = Field(default=0.0, ge=0, description="Durable wait after the wave.")
    max_failed_regions: int = Field(
        default=0, ge=0, description="Regions of this wave that may fail (and be put back)."
    )


class GateInputPlan(_Plan):
    """A value approvers give with their approval, checked against a regex."""

    pattern: str | None = None
    required: bool = False
    description: str = ""


GatePointKind = Literal["before-environment", "before-wave", "after-wave", "promotion"]
OnTimeout = Literal["reject", "approve", "escalate"]


class GatePlan(_Plan):
    """An approval gate and its policy, with every group resolved to its users.

    Attributes:
        name: The gate's name in the spec.
        at: Where it stands; ``wave`` is 1-based for ``before-wave``/``after-wave``.
        approvers: Users who may decide (groups expanded at plan time); empty: anyone.
        approvers_as_written: The users and groups of the spec, for people to read.
        required: Distinct approvals that pass the gate; one rejection closes it.
        allow_self_approval: Whether the release's requester may approve it.
        timeout_s: Seconds the gate waits (None: for ever); then ``on_timeout``.
        escalate_to: Users (resolved) asked too once the first timeout passes.
        escalate_as_written: ``escalate-to`` as the spec names it.
    """

    name: str
    at: GatePointKind
    wave: int | None = None
    approvers: tuple[str, ...] = ()
    approvers_as_written: tuple[str, ...] = ()
    required: int = 1
    allow_self_approval: bool = False
    timeout_s: float | None = None
    on_timeout: OnTimeout = "reject"
    escalate_to: tuple[str, ...] = ()
    escalate_as_written: tuple[str, ...] = ()
    instructions: str = ""
    inputs: dict[str, GateInputPlan] = Field(default_factory=dict)
    channel: str | None = None

    @property
    def point(self) -> str:
        """Where the gate stands, as the spec writes it (``before-wave 2``)."""
        return self.at if self.wave is None else f"{self.at} {self.wave}"


OnFailure = Literal["rollback", "pause"]
"""What a failure does: put back every touched region, or wait for a person to decide."""
KeepPrevious = Literal["until-done", "bake", "none"]
"""How long old versions stay warm: until the release commits, through the wave's
bake, or not at all (a rollback then starts them again from their artifacts)."""


class DeployPlan(_Plan):
    """Where and what to deploy, and in which order."""

    environment: str
    platform: str = "local"
    regions: tuple[RegionPlan, ...]
    services: tuple[ServicePlan, ...]
    waves: tuple[WavePlan, ...] = Field(
        default=(), description="Empty: one region per wave, in the order of ``regions``."
    )
    keep_previous: KeepPrevious = "until-done"
    on_failure: OnFailure = "rollback"
    gates: tuple[GatePlan, ...] = Field(default=(), description="Approval gates (level 4).")
    steps: tuple[CustomStepPlan, ...] = Field(
        default=(), description="Teams' own steps (activities, webhooks), in spec order."
    )

    def gate_at(self, at: GatePointKind, wave: int | None = None) -> GatePlan | None:
        """The gate standing at ``at`` (and 1-based ``wave``), if any."""
        return next((g for g in self.gates if g.at == at and g.wave == wave), None)

    @model_validator(mode="after")
    def _waves_name_regions(self) -> DeployPlan:
        known = {region.name for region in self.regions}
        unknown = sorted({r for wave in self.waves for r in wave.regions} - known)
        if unknown:
            raise ValueError(f"waves name regions the plan does not have: {', '.join(unknown)}")
        return self

    def ordered_waves(self) -> tuple[WavePlan, ...]:
        """The waves, or one per region in declaration order when none are given."""
        return self.waves or tuple(WavePlan(regions=(r.name,)) for r in self.regions)

    def region(self, name: str) -> RegionPlan:
        """The region called ``name``."""
        return next(region for region in self.regions if region.name == name)


class ReleasePlan(_Plan):
    """Everything a release does, from source to traffic: the input of ``ReleaseWorkflow``.

    Versioned (``schema_version``) as a contract: other-language clients and
    parent workflows build it from its JSON Schema (``ferryman schema --json-schema
    release-plan``).
    """

    schema_version: Literal[1] = Field(default=1, description="Version of this contract.")
    system: str
    environment: str
    version: str = Field(description="Version label routed to; default derived from the build.")
    spec_path: str
    build: BuildPlan
    deploy: DeployPlan
    queue: bool = Field(
        default=True,
        description="Wait behind a release of the same system to the same environment "
        "(False: refuse to start while one runs).",
    )
    history_limit: int = Field(
        default=10_000,
        ge=10,
        description="Continue as new past this many history events, even if the server "
        "does not suggest it yet.",
    )
    requested_by: str = Field(
        default="", description="Who started the release (authenticated by the CLI or server)."
    )
