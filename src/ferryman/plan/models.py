"""The compiled release plan: what the workflows interpret.

A ``ReleasePlan`` is pure data derived from a ``Spec`` and a release request.
Workflows never re-read the spec; everything they need is here, with sources
resolved to absolute paths or URLs and durations in seconds.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Plan(BaseModel):
    model_config = ConfigDict(frozen=True)


class StepPlan(_Plan):
    """One build step, resolved."""

    name: str
    run: str
    env: dict[str, str] = Field(default_factory=dict)
    working_directory: str = "."
    timeout_s: float = 1800.0
    shell: str = "bash"


class BuildNode(_Plan):
    """One unit of build work: a repo (later, a repo × matrix leg)."""

    id: str
    repo: str
    source: str = Field(description="Absolute local path or git URL.")
    ref: str | None = None
    steps: tuple[StepPlan, ...]
    outputs: tuple[str, ...]
    needs: tuple[str, ...] = ()
    task_queue: str = Field(
        default="ferryman-build", description="Task queue whose workers run this node's steps."
    )


class BuildPlan(_Plan):
    """The nodes to build, in a valid topological order."""

    nodes: tuple[BuildNode, ...]


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
    health: HealthPlan = Field(default_factory=HealthPlan)
    replicas: int = 1


class RegionPlan(_Plan):
    """A region and its zones, in deploy order."""

    name: str
    zones: tuple[str, ...]


class DeployPlan(_Plan):
    """Where and what to deploy."""

    environment: str
    platform: str = "local"
    regions: tuple[RegionPlan, ...]
    services: tuple[ServicePlan, ...]


class ReleasePlan(_Plan):
    """Everything a release does, from source to traffic."""

    system: str
    environment: str
    version: str = Field(description="Version label routed to; default derived from the build.")
    spec_path: str
    build: BuildPlan
    deploy: DeployPlan
