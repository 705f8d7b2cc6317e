"""The JSON bodies of the agent's HTTP API, shared by the agent and its client."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from ferryman.platform.models import Instance, InstanceRequest, RouteTable


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PrepareBody(_Body):
    """``POST /v1/prepare``."""

    key: str
    request: InstanceRequest


class PrepareResult(_Body):
    """Answer to ``POST /v1/prepare``: every running instance of the version in the zone."""

    instances: list[Instance]


class RoutesBody(_Body):
    """``PUT /v1/routes/{region}/{service}``."""

    key: str
    routes: RouteTable


class RoutesResult(_Body):
    """Answer to ``PUT /v1/routes/…``: the region's new route generation."""

    generation: int


class RetireBody(_Body):
    """``POST /v1/retire``."""

    key: str
    region: str
    zone: str
    service: str
    version: str


class RetireResult(_Body):
    """Answer to ``POST /v1/retire``: how many instances were stopped."""

    stopped: int


class InstancesResult(_Body):
    """Answer to ``GET /v1/instances``."""

    instances: list[Instance]


class AgentEvent(_Body):
    """One thing the agent did, e.g. ``instance.started``."""

    seq: int
    time: float
    kind: str
    instance: str | None = None
    pid: int | None = None
    detail: str = ""


class EventsResult(_Body):
    """Answer to ``GET /v1/events``."""

    events: list[AgentEvent]


class AgentHealth(_Body):
    """Answer to ``GET /v1/health``."""

    ok: bool
    pid: int


class EjectBody(_Body):
    """``POST /v1/eject``: a router saw an instance refuse a connection."""

    environment: str
    region: str
    instance: str
