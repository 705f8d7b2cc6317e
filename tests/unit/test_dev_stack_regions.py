"""A program that starts releases itself tells the dev stack's worker which regions to serve.

``ferryman release`` does it for the CLI; ``ferryman.serve_regions_on_dev_stack``
is the same call for ``ferryman.start_release`` and for a release run as a child.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

import pytest

import ferryman
from ferryman.devstack.stack import StackInfo, info_path, regions_file
from ferryman.temporal.worker.regions import read_regions

ROOT = Path(__file__).resolve().parents[2]


def hello_plan() -> ferryman.ReleasePlan:
    return ferryman.plan_release(ROOT / "examples" / "hello", "dev", version="v1")


def record_stack(pid: int) -> None:
    info = StackInfo("127.0.0.1:7233", "default", "http://127.0.0.1:7480", None, {"worker": pid})
    info_path().parent.mkdir(parents=True, exist_ok=True)
    info_path().write_text(json.dumps(asdict(info)))


def test_a_running_dev_stack_is_told_the_plan_s_regions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FERRYMAN_HOME", str(tmp_path))
    record_stack(os.getpid())
    regions_file().write_text(json.dumps(["eu-west"]))
    assert ferryman.serve_regions_on_dev_stack(hello_plan()) is True
    assert read_regions(regions_file()) == ["eu-west", "local-1"]


def test_without_a_running_dev_stack_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FERRYMAN_HOME", str(tmp_path))
    assert ferryman.serve_regions_on_dev_stack(hello_plan()) is False
    record_stack(2**22 + 12345)  # a pid that runs nothing
    assert ferryman.serve_regions_on_dev_stack(hello_plan()) is False
    assert not regions_file().exists()
