"""Teams' own steps in the spec: ``environments.<env>.steps`` (activities and webhooks).

A step runs either an activity by name on a task queue a team owns (served by a
worker in any language Temporal supports), or an HTTP call (a webhook) made by
ferryman's own worker. It stands at a point of the rollout, in the vocabulary of
gates (``ferryman.spec.gates``):

- ``before-environment``, ``before-wave N``, ``after-wave N``: once, around a wave;
- ``during-bake N`` (or ``during-bake``: every wave's bake): runs while the wave
  bakes, as an analysis whose result passes or fails the bake;
- ``before-region``, ``after-region``, ``promotion``: in each region (or only those of
  ``regions``), before its switch, after it, or once the new version is healthy and
  before it takes user traffic (before a held promotion waits).

Example::

    environments:
      prod:
        steps:
          - at: before-wave 1
            activity:
              name: migrate-db
              task-queue: payments-ops
              input: {schema: v42}
              timeout: 10m
              retries: 3
              heartbeat: 30s
              compensate: {name: rollback-db, input: {schema: v41}}
          - name: notify-payments
            at: after-region
            webhook:
              url: https://hooks.payments.internal/deployed
              headers: {Authorization: "Bearer ${{ secrets.token }}"}
              secrets: {token: {env: PAYMENTS_TOKEN}}
              expect: {status: [200, 202], body: '"ok":\\s*true'}
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, JsonValue, field_validator, model_validator

from ferryman.spec.base import _Frozen, check_name
from ferryman.spec.duration import Duration
from ferryman.spec.secrets import SecretRef

StepPoint = Literal[
    "before-environment",
    "before-wave",
    "after-wave",
    "during-bake",
    "before-region",
    "after-region",
    "promotion",
]
RELEASE_POINTS: frozenset[str] = frozenset(
    {"before-environment", "before-wave", "after-wave", "during-bake"}
)
"""Points the release itself runs a step at, once."""
REGION_POINTS: frozenset[str] = frozenset({"before-region", "after-region", "promotion"})
"""Points each region deploy runs a step at."""

_AT = re.compile(
    r"^(?P<point>before-environment|before-region|after-region|promotion"
    r"|during-bake|(?:before|after)-wave)(?:\s+(?P<wave>[1-9][0-9]*))?$"
)
_SECRET_REF = re.compile(r"\$\{\{\s*secrets\.([A-Za-z0-9_-]+)\s*\}\}")
_SECRET_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,62}$")
_WAVED = frozenset({"before-wave", "after-wave"})


def parse_step_point(at: str) -> tuple[StepPoint, int | None]:
    """``"before-wave 2"`` → ``("before-wave", 2)``; ``"before-region"`` → ``(…, None)``.

    Raises:
        ValueError: ``at`` is not a point a step can stand at.
    """
    match = _AT.match(" ".join(at.split()))
    point = match.group("point") if match else ""
    wave = int(match.group("wave")) if match and match.group("wave") else None
    ok = match is not None and (
        (point in _WAVED and wave is not None)
        or (point == "during-bake")
        or (point not in _WAVED and wave is None)
    )
    if not ok:
        raise ValueError(
            f"invalid step point {at!r}: use before-environment, before-wave N, after-wave N, "
            "during-bake [N], before-region, after-region or promotion"
        )
    return point, wave  # type: ignore[return-value]


def secret_names(text: str) -> list[str]:
    """The secrets a header value refers to with ``${{ secrets.NAME }}``."""
    return _SECRET_REF.findall(text)


class ActivityCompensation(_Frozen):
    """The activity that undoes a step during a rollback (on the step's task queue by default)."""

    name: str = Field(min_length=1, description="The activity's name (its type).")
    task_queue: str | None = Field(
        default=None, alias="task-queue", description="Default: the step's task queue."
    )
    input: dict[str, JsonValue] = Field(
        default_factory=dict, description="Passed as `input` of the compensation's payload."
    )
    timeout: Duration = Field(default=600.0, gt=0, description="Per attempt (start to close).")
    retries: int = Field(default=5, ge=0, description="Attempts after the first one fails.")
    heartbeat: Duration | None = Field(
        default=None, gt=0, description="The worker must heartbeat at least this often."
    )


class ActivityCall(_Frozen):
    """An activity a team's worker serves, called by name on the team's task queue."""

    name: str = Field(min_length=1, description="The activity's name (its type).")
    task_queue: str = Field(min_length=1, alias="task-queue", description="The team's queue.")
    input: dict[str, JsonValue] = Field(
        default_factory=dict, description="Passed as `input` of the step's JSON payload."
    )
    timeout: Duration = Field(default=600.0, gt=0, description="Per attempt (start to close).")
    retries: int = Field(default=2, ge=0, description="Attempts after the first one fails.")
    heartbeat: Duration | None = Field(
        default=None, gt=0, description="The worker must heartbeat at least this often."
    )
    worker_wait: Duration = Field(
        default=30.0,
        gt=0,
        alias="worker-wait",
        description="No worker picks the step up by then: the release reports "
        "`waiting for a worker on <task-queue>` and keeps waiting.",
    )
    compensate: ActivityCompensation | None = Field(
        default=None, description="Runs during a rollback if the step had succeeded."
    )


class WebhookExpect(_Frozen):
    """What a webhook's answer must be for the step to pass."""

    status: tuple[int, ...] = Field(default=(), description="Accepted statuses; empty: any 2xx.")
    body: str | None = Field(default=None, description="A regex the body must contain.")

    @model_validator(mode="before")
    @classmethod
    def _one_status(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("status"), int):
            return {**data, "status": [data["status"]]}
        return data

    @field_validator("status")
    @classmethod
    def _statuses(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        bad = [s for s in value if not 100 <= s <= 599]
        if bad:
            raise ValueError(f"HTTP statuses are 100-599, got {bad[0]}")
        return value

    @field_validator("body")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regex {value!r}: {exc}") from None
        return value


Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]


class HttpCall(_Frozen):
    """An HTTP call: method, URL, headers (with secrets), the expected answer."""

    method: Method = Field(default="POST", description="The HTTP method.")
    url: str = Field(min_length=1, description="An http:// or https:// URL.")
    headers: dict[str, str] = Field(
        default_factory=dict, description="May use `${{ secrets.NAME }}` in values."
    )
    secrets: dict[str, SecretRef] = Field(
        default_factory=dict, description="Read by the worker when the call is made."
    )
    input: dict[str, JsonValue] = Field(
        default_factory=dict,
        description="Sent as `input` of the step's JSON payload (the request body).",
    )
    body: JsonValue | None = Field(
        default=None, description="Sent as the JSON body instead of the step's payload."
    )
    expect: WebhookExpect = Field(
        default_factory=WebhookExpect, description="The answer that passes the step."
    )
    timeout: Duration = Field(default=30.0, gt=0, description="For the whole answer.")
    retries: int = Field(default=0, ge=0, description="Attempts after the first one fails.")

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"a webhook URL is http:// or https://, got {value!r}")
        if secret_names(value):
            raise ValueError("secrets go in headers, not in the URL")
        return value

    @field_validator("secrets")
    @classmethod
    def _secret_names(cls, value: dict[str, SecretRef]) -> dict[str, SecretRef]:
        for name in value:
            if not _SECRET_NAME.match(name):
                raise ValueError(f"invalid secret name {name!r}: letters, digits, '_' and '-'")
        return value

    @model_validator(mode="after")
    def _known_secrets(self) -> HttpCall:
        for header, text in self.headers.items():
            for name in secret_names(text):
                if name not in self.secrets:
                    raise ValueError(f"header {header!r} uses secret {name!r}, not in secrets")
        return self


class WebhookCompensation(HttpCall):
    """The HTTP call that undoes a webhook step during a rollback."""


class WebhookCall(HttpCall):
    """An HTTP call made by ferryman's worker, for teams that expose a service."""

    compensate: WebhookCompensation | None = Field(
        default=None, description="Runs during a rollback if the step had succeeded."
    )


class CustomStep(_Frozen):
    """A team's step: an activity on the team's task queue, or a webhook, at a rollout point."""

    name: str | None = Field(
        default=None, description="Unique in the environment; default: the activity's name."
    )
    at: str = Field(
        description="before-environment, before-wave N, after-wave N, during-bake [N], "
        "before-region, after-region or promotion."
    )
    regions: tuple[str, ...] = Field(
        default=(), description="Region points only: these regions (empty: every region)."
    )
    activity: ActivityCall | None = Field(
        default=None, description="An activity on the team's task queue (or `webhook`)."
    )
    webhook: WebhookCall | None = Field(
        default=None, description="An HTTP call ferryman's worker makes (or `activity`)."
    )

    @field_validator("at")
    @classmethod
    def _point(cls, value: str) -> str:
        parse_step_point(value)
        return " ".join(value.split())

    @model_validator(mode="after")
    def _shape(self) -> CustomStep:
        if (self.activity is None) == (self.webhook is None):
            raise ValueError("a step needs exactly one of 'activity' or 'webhook'")
        if self.name is None and self.webhook is not None:
            raise ValueError("a webhook step needs a name")
        if self.name is not None:
            check_name(self.name)
        if self.regions and self.point[0] not in REGION_POINTS:
            raise ValueError("'regions' only goes with before-region, after-region or promotion")
        return self

    @property
    def point(self) -> tuple[StepPoint, int | None]:
        """Where the step stands: the kind of point and, for waves, the 1-based wave."""
        return parse_step_point(self.at)

    @property
    def step_name(self) -> str:
        """The step's name: ``name``, else its activity's name."""
        if self.name is not None:
            return self.name
        assert self.activity is not None
        return self.activity.name
