"""The replace strategy (level 1): one swap, then retire."""

from __future__ import annotations

from ferryman.deploy.steps import AwaitHealthy, Prepare, Retire, SetRoutes, only
from ferryman.deploy.strategies import ReplaceOptions, rollout

from .conftest import LAUNCH, serving, target


def test_replace_switches_at_once_and_retires_the_old_version_on_finalize() -> None:
    steps = rollout(ReplaceOptions(), serving("v1"), target())
    assert steps.switch == (
        Prepare(version="v2", launch=LAUNCH),
        AwaitHealthy(version="v2", deadline_s=20, interval_s=0.1),
        SetRoutes(routes=only("web", "v2"), label="switch"),
    )
    assert steps.finalize == (Retire(version="v1"),)


def test_replace_of_a_live_version_is_unchanged() -> None:
    assert rollout(ReplaceOptions(), serving("v2"), target("v2")).unchanged


def test_first_replace_retires_nothing() -> None:
    assert rollout(ReplaceOptions(), serving(None), target()).finalize == ()
