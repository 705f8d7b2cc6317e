"""A source inside a larger repository is versioned by its own history, not by HEAD."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from ferryman.build.checkout import checkout

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=repo,
        env={**os.environ, **GIT_ENV},
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def test_an_example_inside_a_project_takes_the_commit_that_last_changed_it(
    tmp_path: Path,
) -> None:
    project = tmp_path / "project"
    app = project / "examples" / "hello" / "app"
    app.mkdir(parents=True)
    (app / "server.py").write_text("print('v1')\n")
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "example")
    example_commit = git(project, "rev-parse", "HEAD")
    (project / "engine.py").write_text("# the project moves on\n")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "engine work")
    (project / "engine.py").write_text("# uncommitted work elsewhere\n")

    clean = checkout(str(app), None, tmp_path / "ws1", tmp_path / "cache")
    assert clean.commit == example_commit

    (app / "server.py").write_text("print('v2')\n")
    dirty = checkout(str(app), None, tmp_path / "ws2", tmp_path / "cache")
    assert dirty.commit == f"{example_commit}-dirty"

    whole = checkout(str(project), "HEAD", tmp_path / "ws3", tmp_path / "cache")
    assert whole.commit == git(project, "rev-parse", "HEAD")
