"""Checkouts of git URLs, local repositories (clean, dirty, subdirectory) and plain directories."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from ferryman.build.checkout import MARKER_NAME, Checkout, checkout
from ferryman.errors import BuildError

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV}
    proc = subprocess.run(
        ["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True
    )
    return proc.stdout.strip()


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with v1 (tagged), v2 on main, and v3 on branch ``feature``."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "app.txt").write_text("v1\n")
    (root / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (root / "run.sh").chmod(0o755)
    (root / ".gitignore").write_text("ignored/\n")
    commit_all(root, "v1")
    git(root, "tag", "v1.0")
    (root / "app.txt").write_text("v2\n")
    commit_all(root, "v2")
    git(root, "checkout", "-q", "-b", "feature")
    (root / "app.txt").write_text("v3\n")
    commit_all(root, "v3")
    git(root, "checkout", "-q", "main")
    return root


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def test_url_checkout_of_head(repo: Path, tmp_path: Path, cache: Path) -> None:
    url = repo.as_uri()
    result = checkout(url, None, tmp_path / "ws", cache)
    assert result.commit == git(repo, "rev-parse", "main")
    assert result.tree_digest == git(repo, "rev-parse", "main^{tree}")
    assert (result.path / "app.txt").read_text() == "v2\n"
    assert os.access(result.path / "run.sh", os.X_OK)
    assert not (result.path / ".git").exists()
    assert len(list(cache.glob("*.git"))) == 1


@pytest.mark.parametrize(("ref", "content"), [("v1.0", "v1\n"), ("feature", "v3\n")])
def test_url_checkout_of_tag_and_branch(
    repo: Path, tmp_path: Path, cache: Path, ref: str, content: str
) -> None:
    result = checkout(repo.as_uri(), ref, tmp_path / "ws", cache)
    assert result.commit == git(repo, "rev-parse", f"{ref}^{{commit}}")
    assert (result.path / "app.txt").read_text() == content


def test_mirror_is_refreshed_on_a_later_checkout(repo: Path, tmp_path: Path, cache: Path) -> None:
    checkout(repo.as_uri(), None, tmp_path / "ws1", cache)
    (repo / "app.txt").write_text("v4\n")
    new_head = commit_all(repo, "v4")
    result = checkout(repo.as_uri(), None, tmp_path / "ws2", cache)
    assert result.commit == new_head


def test_local_repository_uses_real_commits(repo: Path, tmp_path: Path, cache: Path) -> None:
    result = checkout(str(repo), "v1.0", tmp_path / "ws", cache)
    assert result.commit == git(repo, "rev-parse", "v1.0^{commit}")
    assert (result.path / "app.txt").read_text() == "v1\n"
    assert not cache.exists()


def test_local_subdirectory_exports_its_subtree(tmp_path: Path, cache: Path) -> None:
    root = tmp_path / "mono"
    (root / "services" / "api").mkdir(parents=True)
    (root / "services" / "api" / "main.py").write_text("print('api')\n")
    (root / "README").write_text("top\n")
    git(root, "init", "-q")
    head = commit_all(root, "init")
    result = checkout(str(root / "services" / "api"), None, tmp_path / "ws", cache)
    assert result.commit == head
    assert result.tree_digest == git(root, "rev-parse", "HEAD:services/api")
    assert sorted(p.name for p in result.path.iterdir()) == sorted(["main.py", MARKER_NAME])


def test_unknown_ref_is_one_clear_line(repo: Path, tmp_path: Path, cache: Path) -> None:
    with pytest.raises(BuildError) as caught:
        checkout(repo.as_uri(), "no-such-ref", tmp_path / "ws", cache)
    message = str(caught.value)
    assert "\n" not in message
    assert repo.as_uri() in message
    assert "no-such-ref" in message


def test_missing_local_path_fails(tmp_path: Path, cache: Path) -> None:
    with pytest.raises(BuildError, match="no such directory"):
        checkout(str(tmp_path / "absent"), None, tmp_path / "ws", cache)


def test_unreachable_url_fails(tmp_path: Path, cache: Path) -> None:
    with pytest.raises(BuildError, match="cannot check out file://"):
        checkout((tmp_path / "absent").as_uri(), None, tmp_path / "ws", cache)


def test_plain_directory_is_copied_with_a_content_digest(tmp_path: Path, cache: Path) -> None:
    src = tmp_path / "plain"
    (src / "pkg" / "__pycache__").mkdir(parents=True)
    (src / "pkg" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    (src / "pkg" / "mod.py").write_text("x = 1\n")
    (src / ".git").write_text("gitdir: elsewhere\n")
    (src / "tool").write_text("#!/bin/sh\n")
    (src / "tool").chmod(0o755)
    (src / "link").symlink_to("pkg/mod.py")
    first = checkout(str(src), None, tmp_path / "ws1", cache)
    second = checkout(str(src), None, tmp_path / "ws2", cache)
    assert first.commit.startswith("sha256:")
    assert first.commit == first.tree_digest == second.commit
    assert (first.path / "pkg" / "mod.py").read_text() == "x = 1\n"
    assert os.readlink(first.path / "link") == "pkg/mod.py"
    assert os.access(first.path / "tool", os.X_OK)
    assert not (first.path / "pkg" / "__pycache__").exists()
    assert not (first.path / ".git").exists()


def test_plain_directory_digest_follows_content(tmp_path: Path, cache: Path) -> None:
    src = tmp_path / "plain"
    src.mkdir()
    (src / "a").write_text("1")
    before = checkout(str(src), None, tmp_path / "ws1", cache)
    (src / "a").write_text("2")
    after = checkout(str(src), None, tmp_path / "ws2", cache)
    assert before.commit != after.commit


def test_ref_on_plain_directory_is_refused(tmp_path: Path, cache: Path) -> None:
    (tmp_path / "plain").mkdir()
    with pytest.raises(BuildError, match="not a git repository"):
        checkout(str(tmp_path / "plain"), "main", tmp_path / "ws", cache)


def test_dirty_work_tree_is_built_as_is(repo: Path, tmp_path: Path, cache: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    (repo / "app.txt").write_text("edited\n")
    (repo / "new.txt").write_text("untracked\n")
    (repo / "ignored").mkdir()
    (repo / "ignored" / "big.bin").write_text("ignored\n")
    (repo / "run.sh").unlink()
    result = checkout(str(repo), None, tmp_path / "ws", cache)
    assert result.commit == f"{head}-dirty"
    assert result.tree_digest.startswith("sha256:")
    assert (result.path / "app.txt").read_text() == "edited\n"
    assert (result.path / "new.txt").read_text() == "untracked\n"
    assert not (result.path / "ignored").exists()
    assert not (result.path / "run.sh").exists()


def test_dirty_tree_with_an_explicit_ref_exports_the_ref(
    repo: Path, tmp_path: Path, cache: Path
) -> None:
    (repo / "app.txt").write_text("edited\n")
    result = checkout(str(repo), "main", tmp_path / "ws", cache)
    assert result.commit == git(repo, "rev-parse", "main")
    assert (result.path / "app.txt").read_text() == "v2\n"


def test_state_dir_inside_the_source_is_not_copied(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "plain"
    src.mkdir()
    (src / "a").write_text("1")
    home = src / ".ferryman"
    monkeypatch.setenv("FERRYMAN_HOME", str(home))
    result = checkout(str(src), None, home / "workspaces" / "r1" / "app", cache)
    again = checkout(str(src), None, home / "workspaces" / "r2" / "app", cache)
    assert not (again.path / ".ferryman").exists()
    assert again.commit == result.commit


def test_second_call_returns_the_record_untouched(repo: Path, tmp_path: Path, cache: Path) -> None:
    first = checkout(repo.as_uri(), "v1.0", tmp_path / "ws", cache)
    marker = first.path / MARKER_NAME
    mtimes = {p: p.stat().st_mtime_ns for p in first.path.rglob("*")}
    (repo / "app.txt").write_text("moved on\n")
    commit_all(repo, "later")
    second = checkout(repo.as_uri(), "v1.0", tmp_path / "ws", cache)
    assert second == first
    assert Checkout.model_validate_json(marker.read_text()) == first
    assert {p: p.stat().st_mtime_ns for p in first.path.rglob("*")} == mtimes


def test_half_finished_destination_is_redone(repo: Path, tmp_path: Path, cache: Path) -> None:
    dest = tmp_path / "ws"
    dest.mkdir()
    (dest / "leftover.txt").write_text("from a crashed attempt\n")
    result = checkout(repo.as_uri(), None, dest, cache)
    assert not (dest / "leftover.txt").exists()
    assert (result.path / "app.txt").read_text() == "v2\n"


def test_record_for_another_ref_is_replaced(repo: Path, tmp_path: Path, cache: Path) -> None:
    dest = tmp_path / "ws"
    checkout(str(repo), "v1.0", dest, cache)
    result = checkout(str(repo), "feature", dest, cache)
    assert result.ref == "feature"
    assert (dest / "app.txt").read_text() == "v3\n"


def test_destination_holding_the_source_is_refused(tmp_path: Path, cache: Path) -> None:
    src = tmp_path / "plain"
    src.mkdir()
    with pytest.raises(BuildError, match="overwrite the source"):
        checkout(str(src), None, tmp_path, cache)
    assert src.is_dir()


def test_plain_directory_outside_any_repository_starts_no_git(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ferryman.build.checkout as module

    if any((parent / ".git").exists() for parent in tmp_path.parents):
        pytest.skip("the temporary directory lies inside a git work tree")
    for key in module._GIT_DISCOVERY:
        monkeypatch.delenv(key, raising=False)
    src = tmp_path / "plain"
    src.mkdir()
    (src / "a").write_text("1")

    def no_git(args: object, cwd: Path) -> str:
        raise AssertionError(f"git {args} started for a plain directory")

    monkeypatch.setattr(module, "_git", no_git)
    result = checkout(str(src), None, tmp_path / "ws", cache)
    assert result.commit.startswith("sha256:")
