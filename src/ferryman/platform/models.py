"""What a platform runs and routes: the vocabulary shared by strategies and providers.

Pure data, no I/O: deploy strategies build route tables and instance requests
from these models, and every provider (the local agent, HAProxy, a cloud)
speaks them. ``ferryman.providers.base`` holds the ``Provider`` Protocol that
takes and returns them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ferryman.platform.secrets import SecretSource

DataPlane = Literal["regional", "zonal"]
"""``regional``: one router for every zone of a region; ``zonal``: one router per zone."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class InstanceRequest(_Model):
    """Instances of one service version to run in one zone."""

    region: str
    zone: str
    service: str
    version: str
    artifact_dir: str = Field(description="Directory holding the built artifact files.")
    command: str = Field(description="Shell command that starts one instance; $PORT is set.")
    env: dict[str, str] = Field(default_factory=dict)
    secrets: dict[str, SecretSource] = Field(
        default_factory=dict,
        description="Variables whose values the activity reads and hands the provider apart.",
    )
    replicas: int = 1
    health_path: str = "/healthz"
    health_status: int = 200
    artifact_digest: str = Field(
        default="", description="The artifact bundle the files came from, kept for provenance."
    )


class Launch(_Model):
    """How a version of a service was started, enough to start it again elsewhere or later.

    A provider reports one per running version (``ServiceState.launches``), so a
    rollback can prepare a version it retired from its artifact digest.
    """

    artifact_digest: str = ""
    command: str
    env: dict[str, str] = Field(default_factory=dict)
    secrets: dict[str, SecretSource] = Field(
        default_factory=dict, description="Where each secret variable is read (never a value)."
    )
    replicas: int = 1
    health_path: str = "/healthz"
    health_status: int = 200


class Instance(_Model):
    """One running instance."""

    id: str
    region: str
    zone: str
    service: str
    version: str
    port: int
    pid: int | None
    state: str = Field(description="starting | healthy | unhealthy | stopped")
    environment: str = ""
    artifact_digest: str = Field(default="", description="The artifact it was started from.")


class HealthReport(_Model):
    """Health of one service version in one zone."""

    region: str
    zone: str
    service: str
    version: str
    healthy: int
    total: int
    detail: str = ""

    @property
    def ready(self) -> bool:
        """Whether every instance answers its health check."""
        return self.total > 0 and self.healthy == self.total


class RouteRule(_Model):
    """One rule of a route table: requests it matches go to ``version``.

    Exactly one kind of match is set:

    - ``header`` with ``equals``: the request header has that value;
    - ``cookie`` with ``equals``: the request cookie has that value;
    - ``buckets``: the user's bucket (a stable hash of the table's ``user_header``
      into 0-9999) is below ``buckets``, so 500 means 5 % of users, and a user
      stays on the version while the number only grows.
    """

    version: str
    header: str | None = None
    cookie: str | None = None
    equals: str | None = None
    buckets: int | None = None


class Mirror(_Model):
    """Copy ``percent`` of a service's requests to ``version``; its answers are discarded."""

    version: str
    percent: float


class RouteTable(_Model):
    """How a region splits one service's traffic between versions.

    ``rules`` are tried in order and the first that matches picks the version;
    requests no rule matches are split by ``weights`` (version → percent, summing
    to 100). ``RouteTable(service="web", weights={"v1": 100})`` is the simplest table.
    """

    service: str
    weights: dict[str, int]
    rules: tuple[RouteRule, ...] = ()
    mirror: Mirror | None = None
    user_header: str = "X-User-Id"

    def versions(self) -> set[str]:
        """Every version the table can send a request (or a mirrored copy) to."""
        named = {rule.version for rule in self.rules} | set(self.weights)
        return named | ({self.mirror.version} if self.mirror else set())


class ServiceState(_Model):
    """What a region runs for one service right now."""

    region: str
    service: str
    versions_by_zone: dict[str, list[str]] = Field(default_factory=dict)
    routes: RouteTable | None = None
    generation: int = 0
    router_url: str | None = None
    launches: dict[str, Launch] = Field(
        default_factory=dict, description="Version → how its running instances were started."
    )
    data_plane: DataPlane = "regional"
    zone_generations: dict[str, int] = Field(
        default_factory=dict, description="Zonal data plane: the generation each zone serves."
    )
