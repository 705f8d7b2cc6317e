"""ferryman.analysis is pure: its public names resolve and importing it loads no I/O library."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
import types

import pytest

import ferryman.analysis
from ferryman.analysis import Judgement, apply_no_data

SUBMODULES = [
    importlib.import_module(f"ferryman.analysis.{info.name}")
    for info in pkgutil.iter_modules(ferryman.analysis.__path__)
]


@pytest.mark.parametrize("name", ferryman.analysis.__all__)
def test_each_public_name_is_defined_by_a_module_of_the_package(name: str) -> None:
    exported = getattr(ferryman.analysis, name)
    homes = [m.__name__ for m in SUBMODULES if getattr(m, name, None) is exported]
    assert homes, f"ferryman.analysis.{name} is not the object of any ferryman.analysis module"


def test_all_lists_every_public_name_once() -> None:
    public = {
        name
        for name, value in vars(ferryman.analysis).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert sorted(ferryman.analysis.__all__) == sorted(public)


def test_import_loads_no_network_or_temporal_library() -> None:
    code = (
        "import sys, ferryman.analysis, ferryman.spec.analysis;"
        " print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in"
        " ('httpx', 'aiohttp', 'temporalio') or m.startswith('ferryman.metrics'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == []


def test_no_data_policy_is_never_a_silent_pass() -> None:
    assert apply_no_data("no-data", "fail") == "fail"
    assert apply_no_data("no-data", "pause") == "inconclusive"
    assert apply_no_data("no-data", "pass") == "pass"
    assert apply_no_data("fail", "pass") == "fail"


def test_judgement_round_trips_through_json() -> None:
    judged = Judgement(
        metric="errors",
        judge="sequential",
        verdict="fail",
        statistics={"log_e_harm": 5.1},
        reason="error rate canary 2.1% vs baseline 0.5% (+1.60 pp); e=164 ≥ 1/α=100: harm",
    )
    assert Judgement.model_validate_json(judged.model_dump_json()) == judged
