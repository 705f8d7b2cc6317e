"""Checks of ``environments.<e>.rollout`` and of data residency, on the located document.

- every region a wave names exists in its environment, and sits in one wave only;
- with waves given, every region of the environment is in one of them;
- a service with ``residency`` tags runs only in regions carrying one of them:
  a release that would place it elsewhere is refused before anything starts.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ferryman.errors import SpecIssue
from ferryman.spec.models import Spec
from ferryman.spec.validate import SpecDocument, suggest


def _wave_regions(wave: Any) -> list[Any]:
    if isinstance(wave, list):
        return wave
    if isinstance(wave, Mapping) and isinstance(wave.get("regions"), list):
        return list(wave["regions"])
    return []


def _wave_path(wave: Any, index: int, position: int) -> tuple[str | int, ...]:
    return (index, position) if isinstance(wave, list) else (index, "regions", position)


def check_waves(doc: SpecDocument, spec: Spec | None) -> Iterator[SpecIssue]:
    """Waves name known regions, each region once, and leave none out.

    Args:
        doc: The located document.
        spec: The validated spec, unused: the raw document is enough.

    Yields:
        One issue per unknown region, per region in two waves, per region in none.
    """
    for env, environment in doc.mapping(("environments",)).items():
        if not isinstance(environment, Mapping):
            continue
        regions = [str(r) for r in doc.mapping(("environments", env, "regions"))]
        waves = doc.node(("environments", env, "rollout", "waves"))
        if not isinstance(waves, list) or not waves:
            continue
        base = ("environments", env, "rollout", "waves")
        placed: dict[str, int] = {}
        for index, wave in enumerate(waves):
            for position, region in enumerate(_wave_regions(wave)):
                where = (*base, *_wave_path(wave, index, position))
                if not isinstance(region, str):
                    continue
                if region not in regions:
                    hint = suggest(region, regions) or f" (regions of {env}: {', '.join(regions)})"
                    yield doc.issue(where, f"unknown region {region!r}{hint}")
                elif region in placed:
                    first = placed[region] + 1
                    yield doc.issue(where, f"region {region!r} is already in wave {first}")
                else:
                    placed[region] = index
        left_out = [r for r in regions if r not in placed]
        if left_out:
            message = f"regions in no wave: {', '.join(left_out)} (every region needs one)"
            yield doc.issue(base, message)


def check_residency(doc: SpecDocument, spec: Spec | None) -> Iterator[SpecIssue]:
    """A service with ``residency`` tags may be placed only in regions carrying one.

    Args:
        doc: The located document.
        spec: The validated spec; without it the check has nothing reliable to compare.

    Yields:
        One issue per service and environment region outside its allowed tags.
    """
    if spec is None:
        return
    for name, service in spec.services.items():
        if not service.residency:
            continue
        allowed = set(service.residency)
        for env, environment in spec.environments.items():
            for region, details in environment.regions.items():
                if allowed & set(details.tags):
                    continue
                tags = ", ".join(details.tags) or "none"
                message = (
                    f"{env} would place {name} in {region} (tags: {tags}), outside its "
                    f"residency {', '.join(service.residency)}"
                )
                yield doc.issue(("services", name, "residency"), message)


ROLLOUT_CHECKS = (check_waves, check_residency)
"""The checks of this module, run after ``ferryman.spec.validate.CHECKS``."""
