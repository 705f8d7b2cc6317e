"""``canary`` (level 7): a few users first, judged on live metrics, promoted step by step.

The steps use Argo Rollouts' words: ``set-weight``, ``pause`` (timed, or held
until promoted), ``analysis``, ``set-header-route`` and ``set-mirror``. The
canary starts in every zone behind the barrier, as blue-green does, next to a
*fresh baseline*: new instances of the stable version under their own label
(``<stable>.baseline``) that take the same share of users, so that the
comparison is fair (Kayenta's pattern); ``baseline: stable`` compares with the
stable version itself instead.

Users stay on the version they got as the weights grow: a request with a user
id is routed by the user's bucket (0-9999), canary first (``< N·100``), then
the baseline (the next buckets), and every other user to the stable version;
requests without a user id are split by the weights. A user once on the
canary stays on it.

Once the steps are done the canary takes all traffic and the baseline is
retired; the stable version stays warm until the release finalizes, so a
rollback is still one route swap.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ferryman.analysis.models import NoDataPolicy
from ferryman.analysis.runs import Sides, scheduled
from ferryman.analysis.templates import TemplatePlan
from ferryman.deploy.steps import (
    Analyze,
    AwaitHealthy,
    Hold,
    KeepWarm,
    Prepare,
    PreviewMatch,
    Recorded,
    Retire,
    Rollout,
    SetRoutes,
    Step,
    Target,
    only,
)
from ferryman.platform.models import Launch, Mirror, RouteRule, RouteTable
from ferryman.platform.routes import BUCKETS

BASELINE_SUFFIX = ".baseline"


class _Option(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SetWeight(_Option):
    """Send ``weight`` percent of users to the canary."""

    kind: Literal["set-weight"] = "set-weight"
    weight: int = Field(ge=0, le=100)


class PauseStep(_Option):
    """Wait ``seconds``, or until promoted when ``None``."""

    kind: Literal["pause"] = "pause"
    seconds: float | None = Field(default=None, ge=0)


class AnalysisStep(_Option):
    """Judge the canary with these templates; ``interval_s``/``count`` override theirs."""

    kind: Literal["analysis"] = "analysis"
    templates: tuple[TemplatePlan, ...] = Field(min_length=1)
    interval_s: float | None = Field(default=None, gt=0)
    count: int | None = Field(default=None, ge=1)


class HeaderRoute(_Option):
    """Send the requests of a segment (a header or cookie value) to the canary."""

    kind: Literal["set-header-route"] = "set-header-route"
    match: PreviewMatch


class MirrorStep(_Option):
    """Copy ``percent`` of the requests to the canary; its answers are discarded."""

    kind: Literal["set-mirror"] = "set-mirror"
    percent: float = Field(ge=0, le=100)


CanaryStep = Annotated[
    SetWeight | PauseStep | AnalysisStep | HeaderRoute | MirrorStep, Field(discriminator="kind")
]


def check_weights(steps: tuple[CanaryStep, ...]) -> None:
    """Refuse ``set-weight`` steps that do not rise.

    Raises:
        ValueError: With a one-line reason naming the step.
    """
    last, where = 0, -1
    for index, step in enumerate(steps):
        if isinstance(step, SetWeight):
            if step.weight <= last and where >= 0:
                raise ValueError(
                    f"set-weight must rise: steps[{index}] sets {step.weight}"
                    f" after steps[{where}] set {last}"
                )
            last, where = step.weight, index


class CanaryOptions(BaseModel):
    """Canary options, in seconds.

    Attributes:
        steps: The canary's steps, in order.
        baseline: ``fresh`` baseline instances of the stable version, or the ``stable`` one.
        on_no_data: What an analysis without data becomes; ``None`` keeps each template's.
        progress_deadline_s: How long the canary (and baseline) may take to become healthy.
        scale_down_delay_s: How long the stable version stays warm once the release commits.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["canary"] = "canary"
    steps: tuple[CanaryStep, ...] = ()
    baseline: Literal["fresh", "stable"] = "fresh"
    on_no_data: NoDataPolicy | None = None
    progress_deadline_s: float = Field(default=120.0, gt=0)
    scale_down_delay_s: float = Field(default=30.0, ge=0)

    @model_validator(mode="after")
    def _rising(self) -> CanaryOptions:
        check_weights(self.steps)
        return self


def baseline_label(stable: str) -> str:
    """The version label of the fresh baseline instances of ``stable``."""
    return f"{stable}{BASELINE_SUFFIX}"


def canary_table(
    service: str,
    stable: str,
    canary: str,
    weight: int,
    baseline: str | None = None,
    match: PreviewMatch | None = None,
    mirror: float = 0.0,
) -> RouteTable:
    """The route table with ``weight`` percent of users on ``canary``.

    A fresh ``baseline`` gets as many users as the canary (while that leaves
    room: above 50 % it gets the rest). Users are routed by bucket, canary
    first, then baseline, then stable; requests without a user id by weight.
    """
    if weight >= 100 and match is None and not mirror:
        return only(service, canary)
    share = 0 if baseline is None else min(weight, 100 - weight)
    weights = {canary: weight, stable: 100 - weight - share}
    rules: list[RouteRule] = []
    if match is not None:
        rules.append(match.rule(canary))
    rules.append(RouteRule(version=canary, buckets=weight * BUCKETS // 100))
    if baseline is not None:
        weights[baseline] = share
        rules.append(RouteRule(version=baseline, buckets=(weight + share) * BUCKETS // 100))
    rules.append(RouteRule(version=stable, buckets=BUCKETS))
    return RouteTable(
        service=service,
        weights={v: w for v, w in weights.items() if w > 0},
        rules=tuple(rules),
        mirror=Mirror(version=canary, percent=mirror) if mirror else None,
    )


def steps(options: CanaryOptions, recorded: Recorded, target: Target) -> Rollout:
    """The steps that take a region from its stable version to ``target`` through the canary.

    With nothing served yet there is nothing to compare with: the new version
    goes live at once.
    """
    new, service = target.version, target.service
    if recorded.is_live(new, target.zones):
        return Rollout(unchanged=True)
    old = recorded.serving(other_than=new)
    health = {"deadline_s": options.progress_deadline_s, "interval_s": target.health_interval_s}
    switch: list[Step] = [Prepare(version=new, launch=target.launch)]
    if old is None:
        switch += [
            AwaitHealthy(version=new, **health),
            SetRoutes(routes=only(service, new), label="switch"),
        ]
        return Rollout(switch=tuple(switch))
    fresh = _fresh_launch(options, recorded, old, target.launch)
    baseline = baseline_label(old) if fresh is not None else None
    if fresh is not None and baseline is not None:
        switch.append(Prepare(version=baseline, launch=fresh))
    switch.append(AwaitHealthy(version=new, **health))
    if baseline is not None:
        switch.append(AwaitHealthy(version=baseline, **health))
    sides = Sides(
        canary=new,
        baseline=baseline or old,
        references=(baseline, old) if baseline is not None else (old,),
    )
    weight, match, mirror = 0, None, 0.0
    table: RouteTable | None = None
    for step in options.steps:
        if isinstance(step, PauseStep):
            switch.append(Hold(seconds=step.seconds))
            continue
        if isinstance(step, AnalysisStep):
            templates = tuple(scheduled(t, step.interval_s, step.count) for t in step.templates)
            switch.append(
                Analyze(
                    sides=sides,
                    templates=templates,
                    on_no_data=options.on_no_data,
                    label=f"analysis at {weight}%",
                )
            )
            continue
        if isinstance(step, SetWeight):
            weight = step.weight
            label = f"canary {weight}%"
        elif isinstance(step, HeaderRoute):
            match = step.match
            label = f"canary for {step.match.header or step.match.cookie}={step.match.value}"
        else:
            mirror = step.percent
            label = f"mirror {mirror:g}% to canary"
        table = canary_table(service, old, new, weight, baseline, match, mirror)
        switch.append(SetRoutes(routes=table, label=label))
    if table != only(service, new):
        switch.append(SetRoutes(routes=only(service, new), label="promote"))
    if baseline is not None:
        switch.append(Retire(version=baseline))
    finalize: list[Step] = []
    if options.scale_down_delay_s > 0:
        finalize.append(KeepWarm(version=old, seconds=options.scale_down_delay_s))
    finalize.append(Retire(version=old))
    return Rollout(switch=tuple(switch), finalize=tuple(finalize))


def _fresh_launch(
    options: CanaryOptions, recorded: Recorded, old: str, canary: Launch
) -> Launch | None:
    """How to start the fresh baseline (as many replicas as the canary), or None without one."""
    if options.baseline != "fresh":
        return None
    launch = recorded.launches.get(old)
    if launch is None:
        return None
    return launch.model_copy(update={"replicas": canary.replicas})
