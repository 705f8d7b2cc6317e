"""The step vocabulary of a region deploy, and what a region ran before it (pure).

Every strategy (``ferryman.deploy.strategies``) turns its options, the
region's :class:`Recorded` state and a :class:`Target` into a :class:`Rollout`:
the *switch* steps (start the new version in every zone, wait at the barrier,
move traffic) and the *finalize* steps (keep the old version warm, retire it)
that run once the release commits. ``RegionDeployWorkflow`` interprets steps by
their type alone; :func:`restore_steps` gives the steps that undo any prefix of
them, which is each region's compensation in the release's saga.

Example::

    rollout = blue_green.steps(BlueGreenOptions(), recorded, target)
    # switch:   Prepare(v2) → AwaitHealthy(v2) → SetRoutes({v2: 100})
    # finalize: KeepWarm(v1, 30 s) → Retire(v1)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ferryman.analysis.models import NoDataPolicy
from ferryman.analysis.runs import ExperimentPlan, Sides
from ferryman.analysis.templates import TemplatePlan
from ferryman.platform.models import Launch, RouteRule, RouteTable, ServiceState


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PreviewMatch(_Model):
    """Which requests are testers: a header or a cookie with a given value."""

    header: str | None = None
    cookie: str | None = None
    value: str = Field(default="1", min_length=1)

    @model_validator(mode="after")
    def _one_of(self) -> PreviewMatch:
        if (self.header is None) == (self.cookie is None):
            raise ValueError("preview needs exactly one of 'header' or 'cookie'")
        return self

    def rule(self, version: str) -> RouteRule:
        """The route rule sending matching requests to ``version``."""
        return RouteRule(version=version, header=self.header, cookie=self.cookie, equals=self.value)


class SmokeCheck(_Model):
    """One HTTP check: ``GET path`` must answer ``status`` (and contain ``contains``)."""

    path: str = "/"
    status: int = Field(default=200, ge=100, le=599)
    contains: str | None = None


PREVIEW_HEADER = "X-Ferryman-Preview"


def internal_preview(version: str) -> PreviewMatch:
    """The header rule ferryman uses to smoke-test a version no tester previews."""
    return PreviewMatch(header=PREVIEW_HEADER, value=version)


class Target(_Model):
    """The version a region deploy takes one service to.

    Attributes:
        service: The service's name.
        version: The version label routed to.
        launch: How to start it (artifact digest, command, replicas, health).
        zones: The region's zones, all of which must end on ``version``.
        health_timeout_s: How long every zone may take to become healthy.
        health_interval_s: Seconds between health probes.
    """

    service: str
    version: str
    launch: Launch
    zones: tuple[str, ...]
    health_timeout_s: float = 30.0
    health_interval_s: float = 0.5


class Recorded(_Model):
    """What a region ran for one service before a deploy touched it: the compensation.

    Attributes:
        service: The service's name.
        routes: The route table (None if the service was never routed here).
        generation: The region's route generation when recorded.
        versions_by_zone: Versions with running instances, per zone.
        launches: How each running version was started (its artifact digest and
            command), so a rollback can start a retired version again.
    """

    service: str
    routes: RouteTable | None = None
    generation: int = 0
    versions_by_zone: dict[str, list[str]] = Field(default_factory=dict)
    launches: dict[str, Launch] = Field(default_factory=dict)

    @classmethod
    def of(cls, state: ServiceState) -> Recorded:
        """Record a provider's answer."""
        return cls(
            service=state.service,
            routes=state.routes,
            generation=state.generation,
            versions_by_zone={zone: list(v) for zone, v in state.versions_by_zone.items()},
            launches=dict(state.launches),
        )

    @property
    def versions(self) -> frozenset[str]:
        """Versions that had instances in any zone."""
        return frozenset(v for versions in self.versions_by_zone.values() for v in versions)

    def serving(self, other_than: str) -> str | None:
        """The version taking most of the traffic, unless it is ``other_than``."""
        weights = self.routes.weights if self.routes else {}
        if not weights:
            return None
        stable = max(sorted(weights), key=lambda v: weights[v])
        return None if stable == other_than else stable

    def is_live(self, version: str, zones: Sequence[str]) -> bool:
        """Whether ``version`` already runs alone in every zone and takes all traffic.

        A table that still has rules or a mirror (a preview left behind, say) does
        not count: some requests might go elsewhere.
        """
        routes = self.routes
        if routes is None or routes.weights != {version: 100} or routes.rules or routes.mirror:
            return False
        return all(self.versions_by_zone.get(zone) == [version] for zone in zones)


class _Step(BaseModel):
    model_config = ConfigDict(frozen=True)


class Prepare(_Step):
    """Start ``version`` in every zone of the region at once."""

    kind: Literal["prepare"] = "prepare"
    version: str
    launch: Launch


class AwaitHealthy(_Step):
    """Barrier: wait until every zone's instances of ``version`` are healthy."""

    kind: Literal["await-healthy"] = "await-healthy"
    version: str
    deadline_s: float
    interval_s: float = 0.5


class SetRoutes(_Step):
    """Atomically replace the region's route table for the service."""

    kind: Literal["set-routes"] = "set-routes"
    routes: RouteTable
    label: str = Field(default="", description="What the table does, for people: 'preview'.")


class Smoke(_Step):
    """HTTP checks through the router; ``match`` marks them as testers of ``version``."""

    kind: Literal["smoke"] = "smoke"
    version: str
    checks: tuple[SmokeCheck, ...]
    match: PreviewMatch | None = None


class AwaitPromotion(_Step):
    """Hold until someone promotes (or the release is rolled back)."""

    kind: Literal["await-promotion"] = "await-promotion"
    version: str


class Pause(_Step):
    """Wait between traffic steps (a durable timer); a promotion skips the rest."""

    kind: Literal["pause"] = "pause"
    seconds: float


class KeepWarm(_Step):
    """Keep the old version running so that rollback stays a single route swap."""

    kind: Literal["keep-warm"] = "keep-warm"
    version: str
    seconds: float


class Retire(_Step):
    """Stop a version's instances in every zone of the region."""

    kind: Literal["retire"] = "retire"
    version: str


class Hold(_Step):
    """Wait for a promotion, at most ``seconds`` (``None``: indefinitely); it uses up one.

    Unlike :class:`Pause`, which a promotion skips for good, each hold takes its
    own promotion, as Argo Rollouts' ``promote`` skips only the current step.
    """

    kind: Literal["hold"] = "hold"
    seconds: float | None = Field(default=None, ge=0)


class Analyze(_Step):
    """Judge ``sides.canary`` against its baseline on live metrics until the run decides.

    ``pass`` goes on, ``fail`` fails the deploy (which restores the region),
    ``inconclusive`` holds for a promotion; a promotion during the run ends it.
    """

    kind: Literal["analyze"] = "analyze"
    sides: Sides
    templates: tuple[TemplatePlan, ...] = Field(min_length=1)
    on_no_data: NoDataPolicy | None = None
    label: str = ""


class Experiment(_Step):
    """Compare the conversion rate of ``treatment`` with ``control`` until one wins.

    The treatment winning goes on, the control winning fails the deploy (the
    region goes back to it), no difference holds for a promotion.
    """

    kind: Literal["experiment"] = "experiment"
    control: str
    treatment: str
    plan: ExperimentPlan


Step = Annotated[
    Prepare
    | AwaitHealthy
    | SetRoutes
    | Smoke
    | AwaitPromotion
    | Pause
    | KeepWarm
    | Retire
    | Hold
    | Analyze
    | Experiment,
    Field(discriminator="kind"),
]
HOLDS = (AwaitPromotion, Pause, Hold, Analyze, Experiment)
"""Steps a promotion releases: a deploy with one of these ahead can be promoted."""


class Rollout(_Model):
    """A strategy's answer for one service in one region.

    Attributes:
        switch: Steps that take the region to the new version; the old one stays warm.
        finalize: Steps that run once the release commits (retire the old version).
        unchanged: The new version was already live; nothing runs.
    """

    switch: tuple[Step, ...] = ()
    finalize: tuple[Step, ...] = ()
    unchanged: bool = False


def split(old: str | None, new: str, percent: int) -> dict[str, int]:
    """Weights sending ``percent`` of traffic to ``new`` and the rest to ``old``."""
    if old is None or percent == 100:
        return {new: 100}
    return {old: 100 - percent, new: percent}


def only(service: str, version: str) -> RouteTable:
    """The table sending every request of ``service`` to ``version``."""
    return RouteTable(service=service, weights={version: 100})


def restore_steps(recorded: Recorded, target: Target, attempted: Sequence[Step]) -> list[Step]:
    """Steps that put back what ``recorded`` ran after ``attempted`` were carried out.

    ``attempted`` includes a step that failed half-way: undoing a step that did
    nothing is harmless, missing one that did something is not. A recorded
    version that a finalize retired is started again from its artifact first;
    then the recorded table comes back in one swap; then the new version is
    retired, unless it was already running before.

    Args:
        recorded: The region's state before the deploy.
        target: What the deploy took the region to.
        attempted: Every step carried out (or begun), in order.
    """
    steps: list[Step] = []
    retired = {step.version for step in attempted if isinstance(step, Retire)}
    for version in sorted(recorded.versions & retired):
        launch = recorded.launches.get(version)
        if launch is not None and version != target.version:
            steps.append(Prepare(version=version, launch=launch))
            steps.append(
                AwaitHealthy(
                    version=version,
                    deadline_s=target.health_timeout_s,
                    interval_s=target.health_interval_s,
                )
            )
    touched_routes = any(isinstance(step, SetRoutes) for step in attempted)
    if touched_routes and recorded.routes is not None:
        steps.append(SetRoutes(routes=recorded.routes, label="restore"))
    prepared = dict.fromkeys(step.version for step in attempted if isinstance(step, Prepare))
    steps.extend(Retire(version=v) for v in prepared if v not in recorded.versions)
    return steps


def skew(state: ServiceState, target: Target) -> str:
    """Why a region does not serve only ``target.version`` after a switch, or ``""``.

    Every zone must run the new version and the table must send it everything:
    a region never ends a switch with zones or users on different versions.
    """
    version = target.version
    missing = [z for z in target.zones if version not in state.versions_by_zone.get(z, [])]
    if missing:
        return f"zones without {version} after the switch: {', '.join(missing)}"
    routes = state.routes
    if routes is None or routes.weights != {version: 100} or routes.rules:
        served = ", ".join(f"{v} {w}%" for v, w in (routes.weights if routes else {}).items())
        return f"{target.service} routes to {served or 'nothing'} after the switch, not {version}"
    return ""


def describe(step: Step) -> str:
    """One step in a few words, for plans, views and logs."""
    if isinstance(step, Prepare):
        return f"start {step.version} ×{step.launch.replicas} in every zone"
    if isinstance(step, AwaitHealthy):
        return f"barrier ({step.deadline_s:g}s)"
    if isinstance(step, SetRoutes):
        weights = "/".join(f"{v} {w}%" for v, w in step.routes.weights.items())
        rules = f" + {len(step.routes.rules)} rule(s)" if step.routes.rules else ""
        return f"{step.label or 'route'}: {weights}{rules}"
    if isinstance(step, Smoke):
        return f"smoke ×{len(step.checks)}"
    if isinstance(step, AwaitPromotion):
        return "hold for promote"
    if isinstance(step, Pause):
        return f"pause {step.seconds:g}s"
    if isinstance(step, KeepWarm):
        return f"keep {step.version} warm {step.seconds:g}s"
    if isinstance(step, Hold):
        return "hold for promote" if step.seconds is None else f"pause {step.seconds:g}s"
    if isinstance(step, Analyze):
        names = ", ".join(t.name for t in step.templates)
        return f"{step.label or 'analysis'}: {step.sides.canary} vs {step.sides.baseline} ({names})"
    if isinstance(step, Experiment):
        return f"experiment: {step.treatment} vs {step.control}"
    return f"retire {step.version}"
