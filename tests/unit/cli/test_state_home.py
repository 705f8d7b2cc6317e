"""One state home per user, whatever the current directory: FERRYMAN_HOME or the default."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ferryman import paths
from ferryman.build.history import BuildRecord, save_record
from ferryman.build.logs import step_log_path
from ferryman.cli.app import _register, app
from ferryman.cli.logs import newest_run


def test_the_home_does_not_follow_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FERRYMAN_HOME", raising=False)
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "me"))
    monkeypatch.chdir(tmp_path)
    first = paths.home()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert paths.home() == first == tmp_path / "me" / ".local" / "state" / "ferryman"

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert paths.home() == tmp_path / "state" / "ferryman"
    monkeypatch.setenv("FERRYMAN_HOME", str(tmp_path / "explicit"))
    assert paths.home() == tmp_path / "explicit"
    assert paths.describe_home() == f"{tmp_path / 'explicit'} (FERRYMAN_HOME)"


def test_down_with_nothing_to_stop_says_where_it_looked_and_exits_0(ferryman_home: Path) -> None:
    _register()
    result = CliRunner().invoke(app, ["down"], env={"COLUMNS": "300"})
    assert result.exit_code == 0
    assert f"no dev stack is recorded in {ferryman_home / 'dev.json'}" in result.output
    assert "nothing to stop" in result.output


def test_down_forgets_a_stack_whose_processes_are_gone(ferryman_home: Path) -> None:
    (ferryman_home / "dev.json").write_text(
        '{"temporal_address": "x", "namespace": "default", "agent_url": "http://127.0.0.1:1",'
        ' "ui_url": null, "pids": {"agent": 999999999}}'
    )
    _register()
    result = CliRunner().invoke(app, ["down"], env={"COLUMNS": "300"})
    assert result.exit_code == 0
    assert "had already stopped" in result.output
    assert not (ferryman_home / "dev.json").exists()


def _log(run: str, node: str, mtime: float) -> None:
    path = step_log_path(paths.logs_dir(), run, node, 0, "test")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("ran\n")
    os.utime(path, (mtime, mtime))


def test_logs_without_an_argument_means_the_newest_run(ferryman_home: Path) -> None:
    now = datetime.now(UTC).timestamp()
    _log("release/hello/dev/1", "hello", now - 300)
    _log("release/hello/dev/2", "hello", now - 100)
    _log("release/hello/dev/10", "hello", now - 200)
    (paths.dev_logs_dir()).mkdir(parents=True)
    (paths.dev_logs_dir() / "worker.log").write_text("busy\n")
    assert newest_run(paths.logs_dir(), []) == "release_hello_dev_2"

    record = BuildRecord(
        build_id="release/hello/dev/3/build",
        system="hello",
        spec_path="",
        started=datetime.fromtimestamp(now - 60, UTC).isoformat(),
        finished=datetime.fromtimestamp(now - 50, UTC).isoformat(),
        result={"run_id": "release/hello/dev/3", "nodes": {}},
    )
    save_record(paths.builds_dir(), record)
    assert newest_run(paths.logs_dir(), [record]) == "release/hello/dev/3"
