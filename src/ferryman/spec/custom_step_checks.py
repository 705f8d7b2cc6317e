"""Semantic checks of ``environments.<env>.steps`` (see ``ferryman.spec.validate``).

- A wave number beyond the environment's waves (``before-wave 3`` of two waves).
- A name in ``regions`` that is not one of the environment's regions.
- Two steps of one environment with the same name (a step's name defaults to its
  activity's name, so two calls of one activity need names of their own).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ferryman.errors import SpecIssue
from ferryman.spec.custom_steps import parse_step_point
from ferryman.spec.gate_checks import wave_count

if TYPE_CHECKING:
    from ferryman.spec.models import Spec
    from ferryman.spec.validate import SpecDocument


def _steps(doc: SpecDocument) -> Iterator[tuple[str, Mapping[Any, Any], int, Mapping[Any, Any]]]:
    for env_name, environment in doc.mapping(("environments",)).items():
        if not isinstance(environment, Mapping):
            continue
        steps = environment.get("steps")
        for index, step in enumerate(steps if isinstance(steps, list) else []):
            if isinstance(step, Mapping):
                yield str(env_name), environment, index, step


def _name(step: Mapping[Any, Any]) -> str | None:
    name = step.get("name")
    if isinstance(name, str):
        return name
    activity = step.get("activity")
    called = activity.get("name") if isinstance(activity, Mapping) else None
    return called if isinstance(called, str) else None


def check_custom_steps(doc: SpecDocument, spec: Spec | None) -> Iterator[SpecIssue]:
    """Wave numbers within the waves, known regions, one step per name in an environment.

    Args:
        doc: The located document.
        spec: Unused: the raw document is enough.

    Yields:
        One issue per problem, at the offending key.
    """
    from ferryman.spec.validate import suggest

    seen: dict[tuple[str, str], int] = {}
    for env, environment, index, step in _steps(doc):
        where = ("environments", env, "steps", index)
        at = step.get("at")
        if isinstance(at, str):
            try:
                _, wave = parse_step_point(at)
            except ValueError:
                wave = None  # reported by the model
            waves = wave_count(environment)
            if wave is not None and wave > waves:
                yield doc.issue(
                    (*where, "at"), f"wave {wave} is beyond the {waves} wave(s) of {env}"
                )
        known = environment.get("regions")
        names = [str(r) for r in known] if isinstance(known, Mapping) else []
        regions = step.get("regions")
        for position, region in enumerate(regions if isinstance(regions, list) else []):
            if isinstance(region, str) and names and region not in names:
                yield doc.issue(
                    (*where, "regions", position),
                    f"unknown region {region!r}{suggest(region, names)}",
                )
        name = _name(step)
        if name is None:
            continue
        if (env, name) in seen:
            key = "name" if "name" in step else "activity"
            yield doc.issue(
                (*where, key),
                f"step {name!r} already runs at steps[{seen[(env, name)]}]; "
                "give one of them its own name",
            )
        else:
            seen[(env, name)] = index
