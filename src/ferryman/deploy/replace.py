"""Level 1 (start the new version, switch at once, retire the old) as pure decisions."""

from __future__ import annotations

from ferryman.deploy.bluegreen import BlueGreenOptions
from ferryman.providers.base import ServiceState


def is_live(state: ServiceState, version: str, zones: tuple[str, ...]) -> bool:
    """Whether ``version`` already runs alone in every zone and takes all traffic.

    A table that still has rules or a mirror (a preview left behind, say) does
    not count: some requests might go elsewhere.
    """
    routes = state.routes
    if routes is None or routes.weights != {version: 100} or routes.rules or routes.mirror:
        return False
    return all(state.versions_by_zone.get(zone) == [version] for zone in zones)


def derive_version(commit: str) -> str:
    """A version label from a source commit: 12 hex digits, ``-dirty`` kept.

    Args:
        commit: A git sha (optionally ``-dirty``) or ``sha256:<hex>`` content digest.

    Returns:
        A short label such as ``3f2a9c1b7d0e`` or ``3f2a9c1b7d0e-dirty``.
    """
    base = commit.removeprefix("sha256:")
    dirty = base.endswith("-dirty")
    short = base.removesuffix("-dirty")[:12] or "unknown"
    return f"{short}-dirty" if dirty else short


def replace_options(deadline_s: float) -> BlueGreenOptions:
    """Level 1 as blue-green options: switch at once, retire the old version right away.

    Args:
        deadline_s: How long every zone may take to become healthy (the service's
            health timeout).
    """
    return BlueGreenOptions(scale_down_delay_s=0, progress_deadline_s=deadline_s)
