"""``--changed-since``: which repos changed in git, and the narrowed plan."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ferryman.build.affected import changed_repos
from ferryman.errors import BuildError
from ferryman.plan.models import BuildNode, BuildPlan, StepPlan
from ferryman.plan.select import affected_plan

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid"]


def _repo(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "a.txt").write_text("one\n")
    subprocess.run([*GIT, "init", "-q", "-b", "main"], cwd=path, check=True)
    subprocess.run([*GIT, "add", "-A"], cwd=path, check=True)
    subprocess.run([*GIT, "commit", "-qm", "one"], cwd=path, check=True)
    subprocess.run([*GIT, "tag", "v1"], cwd=path, check=True)
    return path


def test_changed_repos_see_commits_uncommitted_and_untracked_files(tmp_path: Path) -> None:
    lib, api, ui, docs = (_repo(tmp_path / n) for n in ("lib", "api", "ui", "docs"))
    (lib / "a.txt").write_text("two\n")
    subprocess.run([*GIT, "commit", "-qam", "two"], cwd=lib, check=True)
    (api / "a.txt").write_text("dirty\n")
    (ui / "new.txt").write_text("untracked\n")
    sources = {"lib": str(lib), "api": str(api), "ui": str(ui), "docs": str(docs)}
    assert changed_repos(sources, "v1") == {"lib", "api", "ui"}
    assert changed_repos({"plain": str(tmp_path)}, "v1") == {"plain"}
    with pytest.raises(BuildError, match="unknown ref 'nope'"):
        changed_repos({"docs": str(docs)}, "nope")


def _node(nid: str, *needs: str) -> BuildNode:
    return BuildNode(
        id=nid,
        repo=nid.split(":")[0],
        source="/s",
        steps=(StepPlan(name="b", run="true"),),
        outputs=("x",),
        needs=needs,
    )


def test_affected_plan_keeps_downstream_and_hands_over_the_rest() -> None:
    plan = BuildPlan(
        nodes=(
            _node("base"),
            _node("lib", "base"),
            _node("svc:amd64", "lib", "base"),
            _node("ui"),
            _node("e2e", "svc:amd64", "ui"),
        )
    )
    narrowed = affected_plan(plan, {"lib"}, {"base": "sha256:b", "ui": "sha256:u"})
    assert [n.id for n in narrowed.nodes] == ["lib", "svc:amd64", "e2e"]
    assert narrowed.prebuilt == {"base": "sha256:b", "ui": "sha256:u"}
    without_history = affected_plan(plan, {"lib"}, {})
    assert [n.id for n in without_history.nodes] == ["base", "lib", "svc:amd64", "ui", "e2e"]
