"""``experiment`` (level 7): an A/B test of the new version against the stable one.

The new version (the *treatment*) starts in every zone behind the barrier and
gets a share of the users, sticky per user: ``percent`` of the user buckets,
or the members of a *segment* (a header or cookie value). The stable version
is the *control*. The experiment step reads each variant's own business
counters (exposures and conversions) and tests the difference of conversion
rates, at a fixed horizon or sequentially. The winner gets 100 %: the
treatment winning is switched to; the control winning fails the deploy, which
puts the control back in one route swap; no difference holds for a human.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ferryman.analysis.runs import ExperimentPlan
from ferryman.deploy.steps import (
    AwaitHealthy,
    Experiment,
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
from ferryman.platform.models import RouteRule, RouteTable
from ferryman.platform.routes import BUCKETS


class ExperimentOptions(BaseModel):
    """Experiment options, in seconds.

    Attributes:
        percent: Share of users (by sticky user bucket) on the new version.
        segment: Instead of ``percent``: the requests that see the new version.
        plan: The counters, the test and the horizon.
        progress_deadline_s: How long the new version may take to become healthy.
        scale_down_delay_s: How long the loser stays warm once the release commits.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["experiment"] = "experiment"
    percent: int | None = Field(default=None, ge=1, le=99)
    segment: PreviewMatch | None = None
    plan: ExperimentPlan
    progress_deadline_s: float = Field(default=120.0, gt=0)
    scale_down_delay_s: float = Field(default=30.0, ge=0)

    @model_validator(mode="after")
    def _one_assignment(self) -> ExperimentOptions:
        if (self.percent is None) == (self.segment is None):
            raise ValueError("an experiment assigns variants by 'percent' or by 'segment'")
        return self


def experiment_table(
    service: str, control: str, treatment: str, options: ExperimentOptions
) -> RouteTable:
    """The route table of the running experiment."""
    if options.segment is not None:
        return RouteTable(
            service=service, weights={control: 100}, rules=(options.segment.rule(treatment),)
        )
    percent = options.percent or 0
    return RouteTable(
        service=service,
        weights={control: 100 - percent, treatment: percent},
        rules=(
            RouteRule(version=treatment, buckets=percent * BUCKETS // 100),
            RouteRule(version=control, buckets=BUCKETS),
        ),
    )


def steps(options: ExperimentOptions, recorded: Recorded, target: Target) -> Rollout:
    """Start the treatment, split the users, run the experiment, switch to the winner.

    With nothing served yet there is no control: the new version goes live at once.
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
    if old is None:
        switch.append(SetRoutes(routes=only(service, new), label="switch"))
        return Rollout(switch=tuple(switch))
    split = (
        f"{options.percent}% of users"
        if options.percent is not None
        else f"segment {options.segment.header or options.segment.cookie}"
        if options.segment is not None
        else ""
    )
    switch += [
        SetRoutes(routes=experiment_table(service, old, new, options), label=f"experiment {split}"),
        Experiment(control=old, treatment=new, plan=options.plan),
        SetRoutes(routes=only(service, new), label="winner"),
    ]
    finalize: list[Step] = []
    if options.scale_down_delay_s > 0:
        finalize.append(KeepWarm(version=old, seconds=options.scale_down_delay_s))
    finalize.append(Retire(version=old))
    return Rollout(switch=tuple(switch), finalize=tuple(finalize))
