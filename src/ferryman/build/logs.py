"""Where build-step logs live and how to read them back.

Layout: ``<root>/<run>/<node>/<NN>-<step>.log``, where every component is
sanitised so that no name can escape ``root`` or collide with a separator.
"""

from __future__ import annotations

import re
from pathlib import Path

from ferryman.errors import BuildError

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _slug(name: str) -> str:
    """A file-name-safe form of ``name``: runs of unsafe characters become ``-``."""
    slug = _UNSAFE.sub("-", name).strip("-.")
    return slug or "_"


def run_dir(root: Path, run_id: str) -> Path:
    """The directory holding every step log of a run (a release or build id)."""
    return root / _slug(run_id.replace("/", "_"))


_run_dir = run_dir


def step_log_path(root: Path, run_id: str, node: str, index: int, step_name: str) -> Path:
    """The log file of one build step.

    Args:
        root: The logs directory, usually ``ferryman.paths.logs_dir()``.
        run_id: The release or workflow run; ``/`` is replaced so it stays one directory.
        node: Id of the build node the step belongs to.
        index: Position of the step in its node, from 0 or 1 as the caller counts.
        step_name: Human name of the step; only used, sanitised, in the file name.

    Returns:
        ``root/<run_id>/<node>/<NN>-<slug>.log``; the directory is not created.
    """
    return _run_dir(root, run_id) / _slug(node) / f"{index:02d}-{_slug(step_name)}.log"


def list_logs(root: Path, run_id: str) -> list[Path]:
    """Every step log of a run, ordered by node then step index.

    Args:
        root: The logs directory.
        run_id: The run whose logs are wanted.

    Returns:
        The log files; empty if the run has none yet.
    """
    run_dir = _run_dir(root, run_id)
    if not run_dir.is_dir():
        return []
    return sorted(run_dir.glob("*/*.log"))


def read_log(path: Path) -> str:
    """The text of a log; undecodable bytes are replaced rather than refused.

    Raises:
        BuildError: The log does not exist or cannot be read.
    """
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise BuildError(f"cannot read log {path}: {exc.strerror or exc}") from exc
