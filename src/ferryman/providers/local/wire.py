"""The JSON bodies of the agent's HTTP API, shared by the agent and its client."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ferryman.platform.models import Instance, InstanceRequest, RouteTable
from ferryman.platform.twophase import Switch


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PrepareBody(_Body):
    """``POST /v1/prepare``."""

    key: str
    request: InstanceRequest
    secrets: dict[str, str] = Field(
        default_factory=dict,
        repr=False,
        description="The values of ``request.secrets``: given to the instances, stored with "
        "them to restart them, never in an answer, an event or the key's fingerprint.",
    )


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


# --- zonal data planes (two-phase switch, request logs) ---------------------------------------


class StageBody(_Body):
    """``POST /v1/env/{environment}/switch/{region}/stage``: phase 1 of a two-phase switch."""

    key: str
    zones: tuple[str, ...]
    routes: RouteTable


class StageResult(_Body):
    """Answer to a stage: the generation every zone router holds staged.

    ``unchanged``: every zone already serves these tables, nothing was staged, and
    ``generation`` is the one in force (committing it is a no-op).
    """

    generation: int
    unchanged: bool = False


class CommitBody(_Body):
    """``POST …/switch/{region}/commit``: phase 2.

    ``lead_ms``: activate at an instant this far ahead on the routers' shared
    clock (0: at once, on receipt); None: the agent's default.
    """

    key: str
    generation: int
    lead_ms: float | None = None


class CommitResult(_Body):
    """Answer to a commit: when each zone router activated the generation.

    ``activated`` maps zone → wall-clock time of activation (None: it already
    served it); ``late`` names zones the commit reached after the agreed instant.
    """

    generation: int
    activated: dict[str, float | None] = Field(default_factory=dict)
    late: tuple[str, ...] = ()


class AbortBody(_Body):
    """``POST …/switch/{region}/abort``: drop a staged generation everywhere."""

    key: str
    generation: int


class AbortResult(_Body):
    """Answer to an abort: whether a staged switch was dropped."""

    generation: int
    aborted: bool


class ZoneRouter(_Body):
    """One zone router of a zonal region, as it answers now."""

    zone: str
    url: str
    generation: int | None = Field(description="The generation it serves (None: no answer).")
    staged: int | None = None


class ZonalState(_Body):
    """``GET …/zonal/{region}``: a zonal region's routers and its latest switch."""

    region: str
    front_url: str
    zones: tuple[ZoneRouter, ...]
    switch: Switch | None = None


class RequestEntry(_Body):
    """One request a router routed: when it received it, and who answered how."""

    time: float
    service: str
    version: str
    status: int
    generation: int
    zone: str


class RequestLogResult(_Body):
    """``GET …/request-log/{region}?since=T``: every router's requests received after T."""

    entries: list[RequestEntry]
