"""The release as a step machine (pure): what runs in which order, and how to undo it.

``release_steps`` turns a deploy plan into the steps ``ReleaseWorkflow``
interprets: build, then each wave of regions (switched together, the old
versions kept warm), its bake, and the finalize that retires old versions when
``keep_previous`` says so. ``compensation`` gives, for the regions a release
has touched, the order in which to put them back: wave by wave, the last wave
first, the regions of one wave together.

Example::

    release_steps(plan.deploy)
    # Build → DeployWave(0, us-east) → Bake(0, 60 s) → DeployWave(1, eu-west, eu-north)
    # → Finalize(us-east, eu-west, eu-north)

Approval gates (level 4) are steps too: ``before-environment`` and
``before-wave N`` stand right before wave N is deployed (after the build, so
approvers judge a known version); ``after-wave N`` right after wave N switched,
before its bake. ``promotion`` gates are not release steps: each region deploy
holds its promotion under that policy.

Teams' own steps (``ferryman.plan.custom_steps``) at release points are steps
too: ``before-environment`` and ``before-wave N`` right before wave N (after its
gate: people approve before anything irreversible runs), ``after-wave N`` right
after wave N switched (before its gate, so approvers see their results), and
``during-bake`` as checks of the bake, which ends once its time is up and every
check has passed. ``undo_order`` interleaves their compensations with the
region restores: whatever was done last is undone first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from ferryman.plan.custom_steps import CustomStepPlan
from ferryman.plan.models import DeployPlan, GatePlan


class _Step(BaseModel):
    model_config = ConfigDict(frozen=True)


class BuildStep(_Step):
    """Build every node of the plan (a child ``BuildWorkflow``)."""

    kind: Literal["build"] = "build"


class DeployWave(_Step):
    """Switch every region of a wave at once (one child ``RegionDeployWorkflow`` each)."""

    kind: Literal["deploy"] = "deploy"
    wave: int
    regions: tuple[str, ...]
    finalize_now: bool = Field(
        default=False, description="Retire old versions right after the switch (keep none)."
    )


class Bake(_Step):
    """Wait with the wave live before going on (a durable timer)."""

    kind: Literal["bake"] = "bake"
    wave: int
    seconds: float
    checks: tuple[CustomStepPlan, ...] = Field(
        default=(), description="Teams' steps run during the bake; each must pass."
    )


class Finalize(_Step):
    """Retire the old versions of these regions: the release no longer needs them warm."""

    kind: Literal["finalize"] = "finalize"
    regions: tuple[str, ...]


class Gate(_Step):
    """Wait for people to approve under the gate's policy (a rejection ends the release)."""

    kind: Literal["gate"] = "gate"
    gate: GatePlan


class CustomStep(_Step):
    """Run a team's step once (an activity on its task queue, or a webhook)."""

    kind: Literal["custom"] = "custom"
    step: CustomStepPlan


ReleaseStep = Annotated[
    BuildStep | DeployWave | Bake | Finalize | Gate | CustomStep, Field(discriminator="kind")
]


def _custom(deploy: DeployPlan, index: int, where: str) -> list[CustomStep]:
    """The teams' steps standing before or after the 0-based wave ``index``."""
    points: set[tuple[str, int | None]] = {(f"{where}-wave", index + 1)}
    if where == "before" and index == 0:
        points.add(("before-environment", None))
    chosen = [s for s in deploy.steps if (s.at, s.wave) in points]
    chosen.sort(key=lambda s: s.at != "before-environment")
    return [CustomStep(step=s) for s in chosen]


def _checks(deploy: DeployPlan, index: int) -> tuple[CustomStepPlan, ...]:
    """The teams' steps that run during the bake of the 0-based wave ``index``."""
    return tuple(s for s in deploy.steps if s.at == "during-bake" and s.wave in (None, index + 1))


def _gates(deploy: DeployPlan, index: int, where: str) -> list[Gate]:
    """The gate standing before or after the 0-based wave ``index``, as a step."""
    gate = deploy.gate_at("before-wave" if where == "before" else "after-wave", index + 1)
    if gate is None and where == "before" and index == 0:
        gate = deploy.gate_at("before-environment")
    return [Gate(gate=gate)] if gate is not None else []


def release_steps(deploy: DeployPlan) -> list[ReleaseStep]:
    """Every step of a release, in order."""
    waves = deploy.ordered_waves()
    steps: list[ReleaseStep] = [BuildStep()]
    for index, wave in enumerate(waves):
        finalize_now = deploy.keep_previous == "none"
        steps.extend(_gates(deploy, index, "before"))
        steps.extend(_custom(deploy, index, "before"))
        steps.append(DeployWave(wave=index, regions=wave.regions, finalize_now=finalize_now))
        steps.extend(_custom(deploy, index, "after"))
        steps.extend(_gates(deploy, index, "after"))
        checks = _checks(deploy, index)
        if wave.bake_s > 0 or checks:
            steps.append(Bake(wave=index, seconds=wave.bake_s, checks=checks))
        if deploy.keep_previous == "bake":
            steps.append(Finalize(regions=wave.regions))
    if deploy.keep_previous == "until-done":
        steps.append(Finalize(regions=tuple(r for wave in waves for r in wave.regions)))
    return steps


def compensation(touched: Sequence[tuple[int, str]]) -> list[tuple[str, ...]]:
    """The order in which to put touched regions back: last wave first, a wave together.

    Args:
        touched: ``(wave, region)`` for every region whose switch began, in order.

    Returns:
        Groups of regions; each group is restored together, the groups in order.
    """
    by_wave: dict[int, list[str]] = {}
    for wave, region in touched:
        if region not in by_wave.setdefault(wave, []):
            by_wave[wave].append(region)
    return [tuple(by_wave[wave]) for wave in sorted(by_wave, reverse=True)]


class RestoreRegions(_Step):
    """Undo: put these regions (one wave's) back together."""

    kind: Literal["restore"] = "restore"
    regions: tuple[str, ...]


class Compensate(_Step):
    """Undo: run the compensation a team's step declared (``step``: its call's key)."""

    kind: Literal["compensate"] = "compensate"
    step: str


def undo_order(
    touched: Sequence[tuple[int, str]], done: Sequence[tuple[int, str]]
) -> list[RestoreRegions | Compensate]:
    """The saga of a release: region restores and step compensations, the last done first.

    Regions go back as in :func:`compensation` (the last wave first, a wave
    together); a team's step that finished after wave W switched is undone before
    wave W's regions, one that finished before any region was touched last.

    Args:
        touched: ``(wave, region)`` for every region whose switch began, in order.
        done: ``(position, step)`` for every finished step with a compensation, in
            order; ``position`` is how many entries ``touched`` had when it finished.
    """
    by_wave: dict[int, list[str]] = {}
    for wave, region in touched:
        if region not in by_wave.setdefault(wave, []):
            by_wave[wave].append(region)
    after: dict[int, list[str]] = {}
    for position, step in done:
        boundary = max((wave for wave, _ in touched[:position]), default=-1)
        after.setdefault(boundary, []).append(step)
    order: list[RestoreRegions | Compensate] = []
    for wave in sorted(set(by_wave) | set(after), reverse=True):
        order.extend(Compensate(step=step) for step in reversed(after.get(wave, [])))
        if by_wave.get(wave):
            order.append(RestoreRegions(regions=tuple(by_wave[wave])))
    return order
