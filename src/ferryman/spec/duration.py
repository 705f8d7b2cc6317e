"""Durations in a spec: ``90``, ``"90s"``, ``"5m"``, ``"1h30m"``, ``"2d"``, as seconds.

A bare number is seconds. A string is one or more ``<number><unit>`` parts with
units ``ms``, ``s``, ``m``, ``h`` and ``d``::

    parse_duration("1h30m")  # 5400.0

Every time in a spec becomes a Temporal timer or timeout (a ``timedelta`` in a
workflow), so none may be longer than ``MAX_SECONDS``, a year.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator, Field

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}

MAX_SECONDS = 365 * 86400
"""The longest time a spec may give anything (365d)."""


def check_longest(seconds: float, value: object) -> float:
    """``seconds``, unless it is longer than ``MAX_SECONDS`` (a ``ValueError`` naming ``value``)."""
    if seconds > MAX_SECONDS:
        raise ValueError(f"a duration must be at most 365d, got {value!r}")
    return seconds


def parse_duration(value: object) -> float:
    """Seconds in a duration written as a number or a string such as ``"1h30m"``.

    Raises:
        ValueError: A negative number, or a string that is not a duration.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 30s or 5m, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        parts = _PART.findall(text)
        if not text or "".join(n + u for n, u in parts) != text:
            raise ValueError(f"expected a duration such as 30s, 5m or 1h30m, got {value!r}")
        seconds = sum(float(number) * _UNITS[unit] for number, unit in parts)
    else:
        raise ValueError(f"expected a duration such as 30s or 5m, got {value!r}")
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative, got {value!r}")
    return check_longest(seconds, value)


Duration = Annotated[float, BeforeValidator(parse_duration)]
"""A spec field holding a duration, validated into seconds."""

Seconds = Annotated[float, Field(le=MAX_SECONDS)]
"""A spec field holding a number of seconds, at most ``MAX_SECONDS``."""
