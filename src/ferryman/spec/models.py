"""The release spec (``ferryman.yaml``) as frozen pydantic models.

The YAML keys follow GitHub Actions where one exists (``working-directory``,
``timeout-minutes``); Python attributes use snake case and the YAML spelling is
the alias. Models forbid unknown keys so that a typo is an error, not a no-op.

Example::

    system: hello
    repos:
      hello:
        source: ./app
        build:
          steps:
            - name: build
              run: ./build.sh
        outputs: ["dist/**"]
    services:
      web:
        artifact: hello
        run: python3 server.py
        health: {path: /healthz}
    environments:
      dev:
        regions:
          local-1: {zones: [a]}
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from ferryman.deploy.steps import PreviewMatch, SmokeCheck
from ferryman.deploy.strategies.blue_green import check_traffic_steps
from ferryman.spec.analysis import AnalysisSpec
from ferryman.spec.base import _Frozen, check_name
from ferryman.spec.custom_steps import CustomStep
from ferryman.spec.duration import MAX_SECONDS, Duration, Seconds
from ferryman.spec.gates import Gate
from ferryman.spec.progressive import CanarySpec, ExperimentSpec
from ferryman.spec.secrets import SecretRef, check_env_secrets, check_secret_names

_SECRETS_DOC = (
    "Variables whose values a worker reads when it uses them (`{env: VAR}` or "
    "`{file: path}`); never in the plan or the workflows' history (docs/secrets.md)."
)


def step_name(run: str, limit: int = 48) -> str:
    """The name of a step without ``name:``, from its command (as GitHub Actions does).

    Example: ``python3 -m unittest -q`` → ``run python3 -m unittest -q``; only the
    first non-empty line is used, and a long one is cut with ``…``.
    """
    first = next((line.strip() for line in run.splitlines() if line.strip()), "")
    name = f"run {first}"
    return name if len(name) <= limit else name[: limit - 1] + "…"


class Step(_Frozen):
    """One build step, as in a GitHub Actions job."""

    name: str = Field(
        min_length=1,
        description="Shown in progress, logs and errors.",
    )
    run: str = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _derive_name(cls, data: object) -> object:
        if isinstance(data, dict) and "name" not in data and isinstance(data.get("run"), str):
            return {**data, "name": step_name(data["run"])}
        return data

    env: dict[str, str] = Field(default_factory=dict)
    secrets: dict[str, SecretRef] = Field(default_factory=dict, description=_SECRETS_DOC)
    working_directory: str = Field(default=".", alias="working-directory")
    timeout_minutes: float = Field(
        default=30.0, gt=0, le=MAX_SECONDS // 60, alias="timeout-minutes"
    )
    shell: str = "bash"

    @field_validator("secrets")
    @classmethod
    def _secret_names(cls, value: dict[str, SecretRef]) -> dict[str, SecretRef]:
        return check_secret_names(value)

    @model_validator(mode="after")
    def _secrets(self) -> Step:
        check_env_secrets(self.secrets, self.env)
        return self


class Build(_Frozen):
    """How a repo is built: steps run in order in a checkout of the source."""

    steps: tuple[Step, ...] = Field(min_length=1)
    env: dict[str, str] = Field(default_factory=dict)
    secrets: dict[str, SecretRef] = Field(
        default_factory=dict, description="Given to every step. " + _SECRETS_DOC
    )

    @field_validator("secrets")
    @classmethod
    def _secret_names(cls, value: dict[str, SecretRef]) -> dict[str, SecretRef]:
        return check_secret_names(value)

    @model_validator(mode="after")
    def _secrets(self) -> Build:
        check_env_secrets(self.secrets, self.env)
        for step in self.steps:
            check_env_secrets(self.secrets, step.env)
        return self


MatrixValue = str | int | float | bool
"""One value of a matrix axis, as written in YAML."""


class Matrix(_Frozen):
    """GitHub-Actions-style matrix: axes, plus ``include`` and ``exclude`` combinations.

    Every key other than ``include`` and ``exclude`` is an axis with a list of values.
    """

    model_config = ConfigDict(frozen=True, extra="allow", populate_by_name=True)

    include: tuple[dict[str, MatrixValue], ...] = ()
    exclude: tuple[dict[str, MatrixValue], ...] = ()

    def axes(self) -> dict[str, tuple[MatrixValue, ...]]:
        """The axes in declaration order, each with its values."""
        extra = self.model_extra or {}
        return {name: tuple(values) for name, values in extra.items()}

    @model_validator(mode="after")
    def _axes_are_lists(self) -> Matrix:
        for name, values in (self.model_extra or {}).items():
            if not isinstance(values, list | tuple) or not values:
                raise ValueError(f"matrix axis {name!r} must be a non-empty list of values")
            if not all(isinstance(v, str | int | float | bool) for v in values):
                raise ValueError(f"matrix axis {name!r} must list plain values")
        return self

    @field_validator("include", "exclude")
    @classmethod
    def _non_empty(
        cls, value: tuple[dict[str, MatrixValue], ...]
    ) -> tuple[dict[str, MatrixValue], ...]:
        for entry in value:
            if not entry:
                raise ValueError("an include/exclude entry needs at least one key")
        return value


class Repo(_Frozen):
    """A source repository: where it lives, how to build it, what it produces."""

    source: str = Field(min_length=1, description="Local path (relative to the spec) or git URL.")
    ref: str | None = Field(default=None, description="Branch, tag or commit; default HEAD.")
    build: Build
    outputs: tuple[str, ...] = Field(
        default=(),
        description="Globs, relative to the checkout, that become the repo's artifact; "
        "none: the repo builds no artifact (it only tests).",
    )
    needs: tuple[str, ...] = Field(default=(), description="Repos whose artifacts this one uses.")
    matrix: Matrix | None = None
    max_parallel: int | None = Field(default=None, ge=1, alias="max-parallel")


class BuildSettings(_Frozen):
    """Settings of the whole build DAG."""

    max_parallel: int | None = Field(default=None, ge=1, alias="max-parallel")
    fail_fast: bool = Field(default=True, alias="fail-fast")


class HealthCheck(_Frozen):
    """How to tell that an instance is ready to serve."""

    path: str = "/healthz"
    status: int = Field(default=200, ge=100, le=599)
    timeout_seconds: Seconds = Field(default=30.0, gt=0, alias="timeout-seconds")
    interval_seconds: Seconds = Field(default=0.5, gt=0, alias="interval-seconds")

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"health path must start with '/', got {value!r}")
        return value


class BlueGreen(_Frozen):
    """Blue-green options (level 3); keys follow Argo Rollouts' spirit in YAML spelling."""

    auto_promote: bool = Field(default=True, alias="auto-promote")
    preview: PreviewMatch | None = None
    smoke: tuple[SmokeCheck, ...] = ()
    post_smoke: tuple[SmokeCheck, ...] = Field(default=(), alias="post-smoke")
    traffic_steps: tuple[int, ...] = Field(default=(100,), alias="traffic-steps")
    pause_seconds: Seconds = Field(default=0.0, ge=0, alias="pause-seconds")
    scale_down_delay_seconds: Seconds = Field(default=30.0, ge=0, alias="scale-down-delay-seconds")
    progress_deadline_seconds: Seconds = Field(
        default=120.0, gt=0, alias="progress-deadline-seconds"
    )

    @field_validator("traffic_steps")
    @classmethod
    def _steps(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        check_traffic_steps(value)
        return value


class Replace(_Frozen):
    """Level 1: start the new version everywhere, switch at once, retire the old one."""


class Strategy(_Frozen):
    """How a new version replaces the old one: exactly one key; without any, ``replace``."""

    replace: Replace | None = None
    blue_green: BlueGreen | None = Field(default=None, alias="blue-green")
    canary: CanarySpec | None = None
    experiment: ExperimentSpec | None = None

    @model_validator(mode="after")
    def _one_strategy(self) -> Strategy:
        fields = type(self).model_fields
        chosen = [fields[name].alias or name for name, value in self if value is not None]
        if len(chosen) > 1:
            raise ValueError(f"choose one strategy, got {', '.join(chosen)}")
        return self


class Service(_Frozen):
    """A long-running service started from a repo's artifacts."""

    artifact: str = Field(description="Name of the repo whose outputs this service runs.")
    run: str = Field(min_length=1, description="Command that starts one instance; $PORT is set.")
    env: dict[str, str] = Field(default_factory=dict)
    secrets: dict[str, SecretRef] = Field(default_factory=dict, description=_SECRETS_DOC)
    health: HealthCheck = Field(default_factory=HealthCheck)
    replicas: int = Field(default=1, ge=1, le=64)
    strategy: Strategy | None = None
    residency: tuple[str, ...] = Field(
        default=(),
        description="Region tags this service may run in (data residency); empty: anywhere.",
    )

    @field_validator("secrets")
    @classmethod
    def _secret_names(cls, value: dict[str, SecretRef]) -> dict[str, SecretRef]:
        return check_secret_names(value)

    @model_validator(mode="after")
    def _secrets(self) -> Service:
        check_env_secrets(self.secrets, self.env)
        return self


class Region(_Frozen):
    """A region, its availability zones, and tags that residency rules match."""

    zones: tuple[str, ...] = Field(min_length=1)
    tags: tuple[str, ...] = Field(default=(), description="e.g. [eu, gdpr]")
    data_plane: Literal["regional", "zonal"] = Field(
        default="regional",
        alias="data-plane",
        description="regional: one router for every zone, one atomic swap; zonal: a router"
        " per zone, switched together by a two-phase commit (docs/levels/3-5-bluegreen-zones.md).",
    )

    @field_validator("zones")
    @classmethod
    def _zone_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for zone in value:
            check_name(zone)
        if len(set(value)) != len(value):
            raise ValueError("zones must be unique")
        return value


class Wave(_Frozen):
    """Regions deployed together; the next wave waits for this one's bake."""

    regions: tuple[str, ...] = Field(min_length=1)
    bake: Duration | None = Field(default=None, description="Default: the rollout's bake.")
    max_failed_regions: int | None = Field(default=None, ge=0, alias="max-failed-regions")

    @model_validator(mode="before")
    @classmethod
    def _list_of_regions(cls, value: object) -> object:
        return {"regions": value} if isinstance(value, list | tuple) else value


class Rollout(_Frozen):
    """How a release crosses an environment's regions: waves, bakes, failure policy."""

    waves: tuple[Wave, ...] = Field(
        default=(), description="Default: one region per wave, in the order of `regions`."
    )
    bake: Duration = Field(default=0.0, description="Wait after each wave (durable timer).")
    on_failure: Literal["rollback", "pause"] = Field(default="rollback", alias="on-failure")
    max_failed_regions: int = Field(default=0, ge=0, alias="max-failed-regions")
    keep_previous: Literal["until-done", "bake", "none"] = Field(
        default="until-done", alias="keep-previous"
    )


class Environment(_Frozen):
    """A deployment target: a platform, the regions it spans, and how to roll across them."""

    platform: str = "local"
    regions: dict[str, Region] = Field(min_length=1)
    rollout: Rollout = Field(default_factory=Rollout)
    gates: dict[str, Gate] = Field(
        default_factory=dict, description="Approval gates (level 4, see ferryman.spec.gates)."
    )
    steps: tuple[CustomStep, ...] = Field(
        default=(), description="Teams' own steps: activities and webhooks at rollout points."
    )

    @field_validator("regions", "gates")
    @classmethod
    def _region_names(cls, value: dict[str, object]) -> dict[str, object]:
        for name in value:
            check_name(name)
        return value


class Spec(_Frozen):
    """A whole ``ferryman.yaml``."""

    system: str = Field(description="Name of the system this spec releases.")
    repos: dict[str, Repo] = Field(min_length=1)
    build: BuildSettings = Field(default_factory=BuildSettings)
    services: dict[str, Service] = Field(default_factory=dict)
    environments: dict[str, Environment] = Field(default_factory=dict)
    analysis: AnalysisSpec = Field(default_factory=AnalysisSpec)

    @field_validator("system")
    @classmethod
    def _system_name(cls, value: str) -> str:
        return check_name(value)

    @field_validator("repos", "services", "environments")
    @classmethod
    def _key_names(cls, value: dict[str, object]) -> dict[str, object]:
        for name in value:
            check_name(name)
        return value
