"""The step-log layout and readers."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferryman.build import list_logs, read_log, step_log_path
from ferryman.errors import BuildError


def test_layout(tmp_path: Path) -> None:
    path = step_log_path(tmp_path, "release/42", "api", 3, "Build the wheel")
    assert path == tmp_path / "release_42" / "api" / "03-Build-the-wheel.log"


@pytest.mark.parametrize(
    ("run_id", "node", "step"), [("../..", "..", "../x"), ("a/../b", "/etc", ".hidden")]
)
def test_names_cannot_escape_the_root(tmp_path: Path, run_id: str, node: str, step: str) -> None:
    path = step_log_path(tmp_path, run_id, node, 0, step)
    assert path.resolve().is_relative_to(tmp_path.resolve())
    assert len(path.relative_to(tmp_path).parts) == 3


def test_list_logs_orders_by_node_then_index(tmp_path: Path) -> None:
    paths = [
        step_log_path(tmp_path, "r1", "web", 1, "test"),
        step_log_path(tmp_path, "r1", "api", 2, "package"),
        step_log_path(tmp_path, "r1", "api", 1, "build"),
        step_log_path(tmp_path, "r2", "api", 1, "build"),
    ]
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(path.name)
    assert list_logs(tmp_path, "r1") == [paths[2], paths[1], paths[0]]
    assert list_logs(tmp_path, "unknown") == []


def test_read_log(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    path.write_bytes(b"ok \xff\n")
    assert read_log(path) == "ok \ufffd\n"
    with pytest.raises(BuildError, match="cannot read log"):
        read_log(tmp_path / "missing.log")
