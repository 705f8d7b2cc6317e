"""Shared builders for the pure deploy tests: a region serving v1, a target v2."""

from __future__ import annotations

from ferryman.deploy.steps import Recorded, Target
from ferryman.platform.models import Launch, RouteTable

ZONES = ("a", "b")
LAUNCH = Launch(artifact_digest="sha256:v2", command="serve", replicas=2)
V1_LAUNCH = Launch(artifact_digest="sha256:v1", command="serve", replicas=2)


def target(version: str = "v2") -> Target:
    return Target(
        service="web",
        version=version,
        launch=LAUNCH,
        zones=ZONES,
        health_timeout_s=20,
        health_interval_s=0.1,
    )


def serving(version: str | None = "v1", also_running: tuple[str, ...] = ()) -> Recorded:
    """A region where ``version`` takes all traffic (None: nothing routed, nothing running)."""
    if version is None:
        return Recorded(service="web")
    running = [version, *also_running]
    return Recorded(
        service="web",
        routes=RouteTable(service="web", weights={version: 100}),
        generation=3,
        versions_by_zone={zone: list(running) for zone in ZONES},
        launches={version: V1_LAUNCH},
    )


def kinds(steps: tuple[object, ...] | list[object]) -> list[str]:
    return [step.kind for step in steps]  # type: ignore[attr-defined]
