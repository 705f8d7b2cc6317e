"""Approval gates in the spec: ``environments.<env>.gates.<name>`` (level 4).

Example::

    environments:
      prod:
        gates:
          go-live:
            at: before-environment      # or: before-wave 2 | after-wave 1 | promotion
            approvers: [release-managers, alice]
            required: 2
            timeout: 1h                 # 90s, 15m, 1h30m, 2d, or a number of seconds
            on-timeout: escalate        # reject (default) | approve | escalate
            escalate-to: [sre]
            instructions: "Check the staging dashboard first."
            inputs: {ticket: {pattern: "CHG-[0-9]+", required: true}}
            channel: "#releases"
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ferryman.spec.duration import check_longest

GatePoint = Literal["before-environment", "before-wave", "after-wave", "promotion"]
OnTimeout = Literal["reject", "approve", "escalate"]

_AT = re.compile(r"^(before-environment|promotion|(before|after)-wave\s+([1-9][0-9]*))$")
_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)d)?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?"
                       r"(?:(\d+(?:\.\d+)?)s)?$")  # fmt: skip
_UNITS = (86400.0, 3600.0, 60.0, 1.0)
_INPUT_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


def parse_duration(value: object) -> float:
    """Seconds in a duration: a number of seconds, or ``90s``, ``15m``, ``1h30m``, ``2d``.

    Raises:
        ValueError: With a one-line reason.
    """
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = str(value).strip().replace(" ", "")
        match = _DURATION.match(text)
        if not text or match is None or not any(match.groups()):
            raise ValueError(
                f"invalid duration {value!r}: use e.g. 90s, 15m, 1h30m, 2d or a number of seconds"
            )
        seconds = sum(float(g) * unit for g, unit in zip(match.groups(), _UNITS, strict=True) if g)
    if seconds <= 0:
        raise ValueError(f"a duration must be positive, got {value!r}")
    return check_longest(seconds, value)


def parse_point(at: str) -> tuple[GatePoint, int | None]:
    """``"before-wave 2"`` → ``("before-wave", 2)``; ``"promotion"`` → ``("promotion", None)``.

    Raises:
        ValueError: If ``at`` is not one of the gate points.
    """
    match = _AT.match(" ".join(at.split()))
    if match is None:
        raise ValueError(
            f"invalid gate point {at!r}: use before-environment, before-wave N, after-wave N "
            "or promotion"
        )
    if match.group(3) is None:
        point: GatePoint = "promotion" if match.group(1) == "promotion" else "before-environment"
        return point, None
    return ("before-wave" if match.group(2) == "before" else "after-wave"), int(match.group(3))


class _Frozen(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, allow_inf_nan=False
    )


class GateInput(_Frozen):
    """A value an approver types in, e.g. a change ticket id, checked by a regex."""

    pattern: str | None = Field(default=None, description="Regex the whole value must match.")
    required: bool = False
    description: str = ""

    @field_validator("pattern")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regex {value!r}: {exc}") from None
        return value


class Gate(_Frozen):
    """A point of the release where people must decide, and the policy they decide under."""

    at: str
    approvers: tuple[str, ...] = Field(min_length=1, description="Users and groups.")
    required: int = Field(default=1, ge=1, description="Distinct approvals needed.")
    allow_self_approval: bool = Field(default=False, alias="allow-self-approval")
    timeout: float | None = Field(default=None, description="Seconds (parsed from 1h, 15m…).")
    on_timeout: OnTimeout = Field(default="reject", alias="on-timeout")
    escalate_to: tuple[str, ...] = Field(default=(), alias="escalate-to")
    instructions: str = ""
    inputs: dict[str, GateInput] = Field(default_factory=dict)
    channel: str | None = None

    @field_validator("at")
    @classmethod
    def _point(cls, value: str) -> str:
        parse_point(value)
        return " ".join(value.split())

    @field_validator("timeout", mode="before")
    @classmethod
    def _duration(cls, value: object) -> float | None:
        return None if value is None else parse_duration(value)

    @field_validator("inputs")
    @classmethod
    def _input_names(cls, value: dict[str, GateInput]) -> dict[str, GateInput]:
        for name in value:
            if not _INPUT_NAME.match(name):
                raise ValueError(
                    f"invalid input name {name!r}: use lower-case letters, digits, '_' and '-'"
                )
        return value

    @model_validator(mode="after")
    def _timeouts(self) -> Gate:
        if self.on_timeout == "escalate" and not self.escalate_to:
            raise ValueError("on-timeout: escalate needs escalate-to (users or groups)")
        if self.escalate_to and self.on_timeout != "escalate":
            raise ValueError("escalate-to is only used with on-timeout: escalate")
        if "on_timeout" in self.model_fields_set and self.timeout is None:
            raise ValueError("on-timeout needs a timeout")
        if len(set(self.approvers)) != len(self.approvers):
            raise ValueError("approvers must be unique")
        return self

    @property
    def point(self) -> tuple[GatePoint, int | None]:
        """Where the gate stands: the kind of point and, for waves, the 1-based wave."""
        return parse_point(self.at)
