"""Which repos changed since a git ref (for ``ferryman build --changed-since``).

A repo is changed when its local source differs between ``REF`` and the working
tree (committed or not). A source that is not in a git work tree, or a URL,
counts as changed: ferryman cannot tell, so it builds it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

from ferryman.errors import BuildError


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)


def source_changed(source: str, ref: str) -> bool:
    """Whether a local source differs from ``ref`` (``True`` for URLs and non-git paths).

    Raises:
        BuildError: ``ref`` is not known in the source's repository.
    """
    path = Path(source)
    if not path.is_dir():
        return True
    if _git(path, "rev-parse", "--is-inside-work-tree").returncode != 0:
        return True
    if _git(path, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").returncode != 0:
        raise BuildError(f"{source}: unknown ref {ref!r}")
    diff = _git(path, "diff", "--quiet", ref, "--", ".")
    untracked = _git(path, "ls-files", "--others", "--exclude-standard", "--", ".")
    return diff.returncode != 0 or bool(untracked.stdout.strip())


def changed_repos(sources: Mapping[str, str], ref: str) -> set[str]:
    """The repos (name → local source path or URL) whose sources changed since ``ref``."""
    return {name for name, source in sources.items() if source_changed(source, ref)}
