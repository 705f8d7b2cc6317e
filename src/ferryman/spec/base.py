"""What every spec model shares: the frozen base model and the check on names."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
_NAME = re.compile(NAME_PATTERN)


class _Frozen(BaseModel):
    # Numbers are finite: every one ends in a plan that crosses a JSON data converter.
    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, allow_inf_nan=False
    )


def check_name(value: str) -> str:
    """Validate a DNS-label-like name used for repos, services, regions and zones.

    Args:
        value: The candidate name.

    Returns:
        The name, unchanged.

    Raises:
        ValueError: If the name is not lower-case letters, digits and dashes.
    """
    if not _NAME.match(value):
        raise ValueError(
            f"invalid name {value!r}: use lower-case letters, digits and '-' (at most 63)"
        )
    return value
