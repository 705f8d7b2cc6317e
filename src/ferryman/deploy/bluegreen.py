"""Blue-green as a pure step machine.

``blue_green_steps`` turns the options and the region's versions into the list
of steps a region deploy carries out; ``rollback_steps`` gives the steps that
restore what was recorded before. Workflows interpret the steps; nothing here
does I/O, so every option and failure branch is unit-tested without a server.

Example::

    steps = blue_green_steps(BlueGreenOptions(traffic_steps=(10, 100)), "v1", "v2")
    # Prepare(v2) → AwaitHealthy(v2) → SetWeights({v1: 90, v2: 10}) → Pause(…)
    # → SetWeights({v2: 100}) → KeepWarm(30 s) → Retire(v1)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class PreviewMatch(BaseModel):
    """Which requests are testers: a header or a cookie with a given value."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    header: str | None = None
    cookie: str | None = None
    value: str = Field(default="1", min_length=1)

    @model_validator(mode="after")
    def _one_of(self) -> PreviewMatch:
        if (self.header is None) == (self.cookie is None):
            raise ValueError("preview needs exactly one of 'header' or 'cookie'")
        return self


class SmokeCheck(BaseModel):
    """One HTTP check: ``GET path`` must answer ``status`` (and contain ``contains``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str = "/"
    status: int = Field(default=200, ge=100, le=599)
    contains: str | None = None


class _Step(BaseModel):
    model_config = ConfigDict(frozen=True)


class Prepare(_Step):
    """Start the new colour in every zone of the region at once."""

    kind: Literal["prepare"] = "prepare"
    version: str


class AwaitHealthy(_Step):
    """Barrier: wait until every zone's instances of ``version`` are healthy."""

    kind: Literal["await-healthy"] = "await-healthy"
    version: str
    deadline_s: float


class Preview(_Step):
    """Send testers (matched by header or cookie) to the new colour; users stay on the old."""

    kind: Literal["preview"] = "preview"
    version: str
    stable: str
    match: PreviewMatch


class Smoke(_Step):
    """HTTP checks through the router; ``match`` marks them as testers of the new colour."""

    kind: Literal["smoke"] = "smoke"
    version: str
    checks: tuple[SmokeCheck, ...]
    match: PreviewMatch | None = None


class AwaitPromotion(_Step):
    """Hold until someone promotes (or rolls back) through an Update."""

    kind: Literal["await-promotion"] = "await-promotion"
    version: str


class SetWeights(_Step):
    """Atomically replace the region's split between versions."""

    kind: Literal["set-weights"] = "set-weights"
    weights: dict[str, int]


class Pause(_Step):
    """Wait between traffic steps (a durable timer)."""

    kind: Literal["pause"] = "pause"
    seconds: float


class KeepWarm(_Step):
    """Keep the old colour running so that rollback stays a single route swap."""

    kind: Literal["keep-warm"] = "keep-warm"
    version: str
    seconds: float


class Retire(_Step):
    """Stop a version's instances in every zone of the region."""

    kind: Literal["retire"] = "retire"
    version: str


Step = (
    Prepare
    | AwaitHealthy
    | Preview
    | Smoke
    | AwaitPromotion
    | SetWeights
    | Pause
    | KeepWarm
    | Retire
)


class BlueGreenOptions(BaseModel):
    """Argo-Rollouts-like options of a blue-green deploy."""

    model_config = ConfigDict(frozen=True, extra="forbid")

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


def check_traffic_steps(steps: tuple[int, ...]) -> None:
    """Refuse traffic steps that do not rise strictly to 100.

    Raises:
        ValueError: With a one-line reason.
    """
    if not steps or steps[-1] != 100:
        raise ValueError("traffic steps must end at 100")
    if any(not 0 < s <= 100 for s in steps) or list(steps) != sorted(set(steps)):
        raise ValueError("traffic steps must rise strictly, each between 1 and 100")


PREVIEW_HEADER = "X-Ferryman-Preview"


def internal_preview(version: str) -> PreviewMatch:
    """The header rule ferryman uses to smoke-test a colour no tester previews."""
    return PreviewMatch(header=PREVIEW_HEADER, value=version)


def split(old: str | None, new: str, percent: int) -> dict[str, int]:
    """Weights sending ``percent`` of traffic to ``new`` and the rest to ``old``."""
    if old is None or percent == 100:
        return {new: 100}
    return {old: 100 - percent, new: percent}


def blue_green_steps(options: BlueGreenOptions, old: str | None, new: str) -> list[Step]:
    """The steps that take a region from ``old`` (None: nothing runs yet) to ``new``.

    Args:
        options: The strategy's options.
        old: The version that serves the region now.
        new: The version to deploy.

    Returns:
        Steps in order; the workflow stops at the first that fails and rolls back.
    """
    steps: list[Step] = [
        Prepare(version=new),
        AwaitHealthy(version=new, deadline_s=options.progress_deadline_s),
    ]
    match = options.preview or (internal_preview(new) if options.smoke else None)
    if match is not None and old is not None:
        steps.append(Preview(version=new, stable=old, match=match))
        if options.smoke:
            steps.append(Smoke(version=new, checks=options.smoke, match=match))
    if not options.auto_promote:
        steps.append(AwaitPromotion(version=new))
    if old is None:
        # Nothing serves yet: the new colour goes live at once and is checked right after.
        steps.append(SetWeights(weights={new: 100}))
        if options.smoke:
            steps.append(Smoke(version=new, checks=options.smoke))
    else:
        for index, percent in enumerate(options.traffic_steps):
            steps.append(SetWeights(weights=split(old, new, percent)))
            last = index == len(options.traffic_steps) - 1
            if not last and options.pause_s > 0:
                steps.append(Pause(seconds=options.pause_s))
    if options.post_smoke:
        steps.append(Smoke(version=new, checks=options.post_smoke))
    if old is not None:
        if options.scale_down_delay_s > 0:
            steps.append(KeepWarm(version=old, seconds=options.scale_down_delay_s))
        steps.append(Retire(version=old))
    return steps


@dataclass(frozen=True)
class Recorded:
    """What a region ran before a deploy touched it.

    Attributes:
        weights: The route table's weights (empty if nothing was routed).
        versions: Versions that had instances in any zone.
    """

    weights: dict[str, int] = field(default_factory=dict)
    versions: frozenset[str] = frozenset()


def rollback_steps(recorded: Recorded, new: str, done: list[Step]) -> list[Step]:
    """Steps that restore ``recorded`` after the steps in ``done`` were carried out.

    Traffic goes back first (one atomic swap), then the new colour is retired,
    unless it was already running before the deploy started.
    """
    steps: list[Step] = []
    touched_routes = any(isinstance(step, SetWeights | Preview) for step in done)
    if touched_routes and recorded.weights:
        steps.append(SetWeights(weights=dict(recorded.weights)))
    prepared = any(isinstance(step, Prepare) for step in done)
    if prepared and new not in recorded.versions:
        steps.append(Retire(version=new))
    return steps


def describe(options: BlueGreenOptions) -> str:
    """The steps of a deploy with these options, as one line for people."""
    parts = ["start in every zone", f"barrier ({options.progress_deadline_s:g}s)"]
    if options.preview is not None:
        match = options.preview
        parts.append(f"preview ({match.header or match.cookie}={match.value})")
    if options.smoke:
        parts.append(f"smoke ×{len(options.smoke)}")
    if not options.auto_promote:
        parts.append("hold for promote")
    steps = "/".join(f"{p}%" for p in options.traffic_steps)
    pause = (
        f" pausing {options.pause_s:g}s"
        if options.pause_s and len(options.traffic_steps) > 1
        else ""
    )
    parts.append(f"switch {steps}{pause}")
    if options.post_smoke:
        parts.append(f"smoke ×{len(options.post_smoke)}")
    if options.scale_down_delay_s:
        parts.append(f"keep old warm {options.scale_down_delay_s:g}s")
    parts.append("retire old")
    return " → ".join(parts)
