"""Inputs, results and views of ``RegionDeployWorkflow`` and its Updates."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ferryman.deploy.bluegreen import BlueGreenOptions, PreviewMatch, SmokeCheck
from ferryman.plan.models import ServicePlan


class _Msg(BaseModel):
    model_config = ConfigDict(frozen=True)


class EnsureRegionsInput(_Msg):
    """Ask the worker process to serve these regions' queues."""

    regions: tuple[str, ...]


class ServiceRollout(_Msg):
    """One service to take to ``version`` in a region."""

    service: ServicePlan
    version: str
    artifact_digest: str
    options: BlueGreenOptions = Field(default_factory=BlueGreenOptions)


class RegionDeployRequest(_Msg):
    """Input of ``RegionDeployWorkflow``."""

    release_id: str
    platform: str
    region: str
    zones: tuple[str, ...]
    services: tuple[ServiceRollout, ...]
    region_queue_prefix: str = "ferryman-region-"
    start_region_workers: bool = Field(
        default=True, description="Ask this worker process to serve the region queue."
    )


class SmokeInput(_Msg):
    """HTTP checks against one version's instances in a region."""

    platform: str
    region: str
    service: str
    version: str
    checks: tuple[SmokeCheck, ...]
    match: PreviewMatch | None = None


class ZoneView(_Msg):
    """Versions running in one zone and the deploy's status there."""

    zone: str
    status: str
    versions: tuple[str, ...] = ()


class ServiceView(_Msg):
    """Where a service's deploy in a region stands."""

    service: str
    version: str
    phase: str
    weights: dict[str, int] = Field(default_factory=dict)
    zones: tuple[ZoneView, ...] = ()
    step: str = ""
    error: str = ""


class RegionProgress(_Msg):
    """Answer of the ``progress`` query of a region deploy."""

    region: str
    phase: str
    services: tuple[ServiceView, ...] = ()
    router_url: str = ""


class RegionResult(_Msg):
    """How a region deploy ended."""

    region: str
    status: str = Field(description="succeeded | unchanged | rolled-back")
    versions: dict[str, str] = Field(default_factory=dict, description="Service → version.")
    router_url: str = ""
    reason: str = ""


class Decision(_Msg):
    """Who asked for a promote or rollback, and why (kept in history for audit)."""

    by: str = "unknown"
    reason: str = ""
