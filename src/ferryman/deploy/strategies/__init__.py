"""Deploy strategies: one module each, one pure function from options to steps.

``StrategyOptions`` is the discriminated union the plan carries (its ``kind``
names the strategy); :func:`rollout` hands the options to their module. A new
strategy is one module with an options model and a ``steps`` function, one
member of the union and one entry in ``_STEPS``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import Field

from ferryman.deploy.steps import Recorded, Rollout, Target
from ferryman.deploy.strategies import blue_green, canary, experiment, replace
from ferryman.deploy.strategies.blue_green import BlueGreenOptions
from ferryman.deploy.strategies.canary import CanaryOptions
from ferryman.deploy.strategies.experiment import ExperimentOptions
from ferryman.deploy.strategies.replace import ReplaceOptions

StrategyOptions = Annotated[
    ReplaceOptions | BlueGreenOptions | CanaryOptions | ExperimentOptions,
    Field(discriminator="kind"),
]

_STEPS: dict[str, Callable[[Any, Recorded, Target], Rollout]] = {
    "replace": replace.steps,
    "blue-green": blue_green.steps,
    "canary": canary.steps,
    "experiment": experiment.steps,
}


def rollout(options: StrategyOptions, recorded: Recorded, target: Target) -> Rollout:
    """The steps of the strategy ``options`` names, for one service in one region."""
    return _STEPS[options.kind](options, recorded, target)


__all__ = [
    "BlueGreenOptions",
    "CanaryOptions",
    "ExperimentOptions",
    "ReplaceOptions",
    "StrategyOptions",
    "rollout",
]
