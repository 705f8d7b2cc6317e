"""``blue-green`` (level 3): the new colour beside the old, previewed, smoke-tested, switched.

Keys follow Argo Rollouts' blue-green in spirit: a preview for testers, smoke
checks before and after promotion, a held promotion, a stepped switch with
pauses, and a scale-down delay that keeps the old colour warm.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ferryman.deploy.steps import (
    AwaitHealthy,
    AwaitPromotion,
    KeepWarm,
    Pause,
    Prepare,
    PreviewMatch,
    Recorded,
    Retire,
    Rollout,
    SetRoutes,
    Smoke,
    SmokeCheck,
    Step,
    Target,
    internal_preview,
    only,
    split,
)
from ferryman.platform.models import RouteTable


def check_traffic_steps(steps: tuple[int, ...]) -> None:
    """Refuse traffic steps that do not rise strictly to 100.

    Raises:
        ValueError: With a one-line reason.
    """
    if not steps or steps[-1] != 100:
        raise ValueError("traffic steps must end at 100")
    if any(not 0 < s <= 100 for s in steps) or list(steps) != sorted(set(steps)):
        raise ValueError("traffic steps must rise strictly, each between 1 and 100")


class BlueGreenOptions(BaseModel):
    """Blue-green options, in seconds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["blue-green"] = "blue-green"
    auto_promote: bool = True
    preview: PreviewMatch | None = None
    smoke: tuple[SmokeCheck, ...] = ()
    post_smoke: tuple[SmokeCheck, ...] = ()
    traffic_steps: tuple[int, ...] = (100,)
    pause_s: float = Field(default=0.0, ge=0)
    scale_down_delay_s: float = Field(default=30.0, ge=0)
    progress_deadline_s: float = Field(default=120.0, gt=0)

    @model_validator(mode="after")
    def _steps_rise_to_100(self) -> BlueGreenOptions:
        check_traffic_steps(self.traffic_steps)
        return self


def steps(options: BlueGreenOptions, recorded: Recorded, target: Target) -> Rollout:
    """The steps that take a region from what it serves to ``target``.

    With nothing served yet, the new colour goes live at once and is smoke-tested
    right after. Otherwise testers preview it first (the internal preview header
    when only smoke checks ask for it), a held promotion waits, and traffic
    moves in the given steps; finalize keeps the old colour warm, then retires it.
    """
    new, service = target.version, target.service
    if recorded.is_live(new, target.zones):
        return Rollout(unchanged=True)
    old = recorded.serving(other_than=new)
    switch: list[Step] = [
        Prepare(version=new, launch=target.launch),
        AwaitHealthy(
            version=new,
            deadline_s=options.progress_deadline_s,
            interval_s=target.health_interval_s,
        ),
    ]
    match = options.preview or (internal_preview(new) if options.smoke else None)
    if match is not None and old is not None:
        preview = RouteTable(service=service, weights={old: 100}, rules=(match.rule(new),))
        switch.append(SetRoutes(routes=preview, label="preview"))
        if options.smoke:
            switch.append(Smoke(version=new, checks=options.smoke, match=match))
    if not options.auto_promote:
        switch.append(AwaitPromotion(version=new))
    if old is None:
        switch.append(SetRoutes(routes=only(service, new), label="switch"))
        if options.smoke:
            switch.append(Smoke(version=new, checks=options.smoke))
    else:
        for index, percent in enumerate(options.traffic_steps):
            table = RouteTable(service=service, weights=split(old, new, percent))
            switch.append(SetRoutes(routes=table, label=f"switch {percent}%"))
            last = index == len(options.traffic_steps) - 1
            if not last and options.pause_s > 0:
                switch.append(Pause(seconds=options.pause_s))
    if options.post_smoke:
        switch.append(Smoke(version=new, checks=options.post_smoke))
    finalize: list[Step] = []
    if old is not None:
        if options.scale_down_delay_s > 0:
            finalize.append(KeepWarm(version=old, seconds=options.scale_down_delay_s))
        finalize.append(Retire(version=old))
    return Rollout(switch=tuple(switch), finalize=tuple(finalize))
