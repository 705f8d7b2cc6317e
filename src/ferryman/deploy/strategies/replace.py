"""``replace`` (level 1): start the new version everywhere, switch at once, retire the old."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from ferryman.deploy.steps import (
    AwaitHealthy,
    Prepare,
    Recorded,
    Retire,
    Rollout,
    SetRoutes,
    Step,
    Target,
    only,
)


class ReplaceOptions(BaseModel):
    """No options: the barrier waits as long as the service's health timeout."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["replace"] = "replace"


def steps(options: ReplaceOptions, recorded: Recorded, target: Target) -> Rollout:
    """Prepare, barrier, one swap to the new version; finalize retires the old one."""
    new = target.version
    if recorded.is_live(new, target.zones):
        return Rollout(unchanged=True)
    switch: list[Step] = [
        Prepare(version=new, launch=target.launch),
        AwaitHealthy(
            version=new, deadline_s=target.health_timeout_s, interval_s=target.health_interval_s
        ),
        SetRoutes(routes=only(target.service, new), label="switch"),
    ]
    old = recorded.serving(other_than=new)
    return Rollout(switch=tuple(switch), finalize=(Retire(version=old),) if old else ())
