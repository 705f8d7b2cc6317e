"""Expand a GitHub-Actions-style matrix into legs (pure).

The axes' cartesian product comes first, in declaration order; ``exclude``
removes every combination that matches all of an entry's keys; each ``include``
entry is merged into every combination whose original axis values it does not
change, or becomes a combination of its own when it fits none.

Example::

    >>> expand_matrix({"platform": ("linux/amd64", "linux/arm64")}, (), ())
    [{'platform': 'linux/amd64'}, {'platform': 'linux/arm64'}]
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence

from ferryman.spec.models import MatrixValue

Leg = dict[str, str]
"""One matrix leg: axis → value, all as strings."""


def _text(value: MatrixValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _matches(leg: Mapping[str, str], entry: Mapping[str, MatrixValue]) -> bool:
    return all(leg.get(key) == _text(value) for key, value in entry.items())


def expand_matrix(
    axes: Mapping[str, Sequence[MatrixValue]],
    include: Sequence[Mapping[str, MatrixValue]],
    exclude: Sequence[Mapping[str, MatrixValue]],
) -> list[Leg]:
    """Every leg of a matrix, in a stable order.

    Args:
        axes: Axis name → values.
        include: Extra combinations or extra keys for matching combinations.
        exclude: Partial combinations to remove.

    Returns:
        The legs; ``[{}]`` for an empty matrix (one unnamed leg).
    """
    names = list(axes)
    legs: list[Leg] = [
        dict(zip(names, (_text(v) for v in combo), strict=True))
        for combo in itertools.product(*(axes[name] for name in names))
    ]
    legs = [leg for leg in legs if not any(_matches(leg, entry) for entry in exclude)]
    if not names:
        legs = []
    originals = [dict(leg) for leg in legs]
    for entry in include:
        text = {key: _text(value) for key, value in entry.items()}
        merged = False
        for leg, original in zip(legs, originals, strict=True):
            if all(
                original.get(key, value) == value for key, value in text.items() if key in names
            ):
                leg.update(text)
                merged = True
        if not merged:
            legs.append(text)
            originals.append(text)
    return legs or [{}]


def leg_slug(leg: Mapping[str, str]) -> str:
    """A leg as a short id part: values joined by ``-``, unsafe characters replaced.

    >>> leg_slug({"platform": "linux/amd64", "py": "3.12"})
    'linux-amd64-3.12'
    """
    return "-".join(re.sub(r"[^A-Za-z0-9._]+", "-", value) for value in leg.values())


def node_id(repo: str, leg: Mapping[str, str]) -> str:
    """The build node id of one leg of a repo: ``repo`` or ``repo:<slug>``."""
    return f"{repo}:{leg_slug(leg)}" if leg else repo
