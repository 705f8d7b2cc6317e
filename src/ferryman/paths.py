"""Where ferryman keeps its state on disk (``FERRYMAN_HOME``, default ``./.ferryman``)."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """The state directory: ``$FERRYMAN_HOME`` or ``.ferryman`` under the current directory."""
    return Path(os.environ.get("FERRYMAN_HOME", ".ferryman")).resolve()


def artifacts_dir() -> Path:
    """Content-addressed artifact store."""
    return home() / "artifacts"


def workspaces_dir() -> Path:
    """Build workspaces, one per release and build node."""
    return home() / "workspaces"


def logs_dir() -> Path:
    """Captured build-step logs."""
    return home() / "logs"


def agent_dir() -> Path:
    """The local platform agent's state (SQLite, instance logs, unpacked artifacts)."""
    return home() / "agent"
