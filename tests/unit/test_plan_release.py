"""The release step machine and its compensation order (pure)."""

from __future__ import annotations

from ferryman.plan.models import DeployPlan, RegionPlan, WavePlan
from ferryman.plan.release import (
    Bake,
    BuildStep,
    DeployWave,
    Finalize,
    compensation,
    release_steps,
)
from ferryman.plan.version import derive_version


def deploy(**changes: object) -> DeployPlan:
    regions = tuple(RegionPlan(name=r, zones=("a",)) for r in ("us", "eu", "ap"))
    return DeployPlan(environment="prod", regions=regions, services=(), **changes)  # type: ignore[arg-type]


def test_without_waves_regions_go_one_by_one_and_finalize_at_the_end() -> None:
    assert release_steps(deploy()) == [
        BuildStep(),
        DeployWave(wave=0, regions=("us",)),
        DeployWave(wave=1, regions=("eu",)),
        DeployWave(wave=2, regions=("ap",)),
        Finalize(regions=("us", "eu", "ap")),
    ]


def test_waves_with_bakes_and_keep_previous_bake() -> None:
    waves = (WavePlan(regions=("us",), bake_s=60), WavePlan(regions=("eu", "ap")))
    assert release_steps(deploy(waves=waves, keep_previous="bake")) == [
        BuildStep(),
        DeployWave(wave=0, regions=("us",)),
        Bake(wave=0, seconds=60),
        Finalize(regions=("us",)),
        DeployWave(wave=1, regions=("eu", "ap")),
        Finalize(regions=("eu", "ap")),
    ]


def test_keep_previous_none_finalizes_in_the_switch() -> None:
    steps = release_steps(deploy(keep_previous="none"))
    assert [s for s in steps if isinstance(s, Finalize)] == []
    waves = [s for s in steps if isinstance(s, DeployWave)]
    assert len(waves) == 3 and all(s.finalize_now for s in waves)


def test_compensation_is_the_last_wave_first_and_a_wave_together() -> None:
    touched = [(0, "us"), (1, "eu"), (1, "ap"), (1, "eu")]
    assert compensation(touched) == [("eu", "ap"), ("us",)]
    assert compensation([]) == []


def test_derive_version() -> None:
    assert derive_version("0123456789abcdef0123") == "0123456789ab"
    assert derive_version("0123456789abcdef-dirty") == "0123456789ab-dirty"
    assert derive_version("sha256:ffeeddccbbaa99887766") == "ffeeddccbbaa"
    assert derive_version("") == "unknown"
