"""ferryman.analysis is pure: its public names resolve and importing it loads no I/O library."""

from __future__ import annotations

import subprocess
import sys

import ferryman.analysis
from ferryman.analysis import Judgement, apply_no_data


def test_every_public_name_resolves() -> None:
    for name in ferryman.analysis.__all__:
        assert getattr(ferryman.analysis, name) is not None, name


def test_import_loads_no_network_or_temporal_library() -> None:
    code = (
        "import sys, ferryman.analysis, ferryman.spec.analysis;"
        "print(sorted({m.split('.')[0] for m in sys.modules}"
        " & {'httpx', 'aiohttp', 'temporalio', 'ferryman.metrics'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    code = "import sys, ferryman.analysis; print('ferryman.metrics' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


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
