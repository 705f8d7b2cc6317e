"""Inputs and results of ``BuildWorkflow`` and the build activities."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ferryman.plan.models import BuildNode, BuildPlan, StepPlan


class _Msg(BaseModel):
    model_config = ConfigDict(frozen=True)


NodeStatus = Literal["running", "succeeded", "failed", "cancelled", "skipped"]
FailureKind = Literal["", "build", "infrastructure"]


class StepInput(_Msg):
    """Run one build step of a node."""

    run_id: str
    node_id: str
    index: int
    step: StepPlan
    workspace: str


class StepOutcome(_Msg):
    """A finished build step."""

    name: str
    exit_code: int
    duration_s: float
    log_path: str


class ArtifactRef(_Msg):
    """A stored bundle of files."""

    digest: str
    files: dict[str, str] = Field(description="Relative path → file digest.")


class BuildRequest(_Msg):
    """Input of ``BuildWorkflow``."""

    run_id: str
    plan: BuildPlan


class DependencyArtifact(_Msg):
    """A dependency's artifact handed to the node that needs it."""

    node_id: str
    repo: str
    matrix: dict[str, str] = Field(default_factory=dict)
    digest: str


class NodeBuildInput(_Msg):
    """Build one node end to end: checkout, cache lookup, steps, outputs, provenance."""

    run_id: str
    node: BuildNode
    dependencies: tuple[DependencyArtifact, ...] = ()
    use_cache: bool = True
    builder_id: str
    invocation_id: str


class NodeBuildOutput(_Msg):
    """What one node's build produced (or found in the cache)."""

    commit: str
    artifact: ArtifactRef
    cache_key: str
    cached: bool
    steps: tuple[StepOutcome, ...] = ()
    duration_s: float = 0.0
    provenance: str = ""


class CacheProbeInput(_Msg):
    """Find, in one round trip, every node whose outputs are already cached."""

    run_id: str
    nodes: tuple[BuildNode, ...] = Field(description="In topological order.")
    prebuilt: dict[str, str] = Field(default_factory=dict)


class CacheProbeOutput(_Msg):
    """Node id → its cached outputs, for every node that needs no build."""

    hits: dict[str, NodeBuildOutput]


class NodeResult(_Msg):
    """How one build node ended."""

    id: str
    status: NodeStatus
    commit: str = ""
    artifact: ArtifactRef | None = None
    steps: tuple[StepOutcome, ...] = ()
    error: str = ""
    kind: FailureKind = Field(default="", description="What failed, on failure.")
    cached: bool = False
    cache_key: str = ""
    duration_s: float = Field(default=0.0, description="Time spent in the build activity.")
    started_at: str = ""
    finished_at: str = ""


class BuildResult(_Msg):
    """Result of ``BuildWorkflow``."""

    run_id: str
    nodes: dict[str, NodeResult]

    @property
    def succeeded(self) -> bool:
        """Whether every node succeeded."""
        return all(node.status == "succeeded" for node in self.nodes.values())
