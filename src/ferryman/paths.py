"""Where ferryman keeps its state on disk: one well-known home per user.

The home is ``$FERRYMAN_HOME`` when set, else ``$XDG_STATE_HOME/ferryman``, else
``~/.local/state/ferryman``. It never depends on the current directory, so every
command finds the running dev stack, the build logs, the build history and the
artifacts whichever directory it runs from. Tests, benchmarks and CI set
``FERRYMAN_HOME`` to keep their state apart.
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_VARIABLE = "FERRYMAN_HOME"
"""The environment variable that overrides the state home."""


def default_home() -> Path:
    """The per-user default: ``$XDG_STATE_HOME/ferryman`` or ``~/.local/state/ferryman``."""
    state = os.environ.get("XDG_STATE_HOME", "").strip()
    base = Path(state) if state and Path(state).is_absolute() else Path.home() / ".local" / "state"
    return base / "ferryman"


def home() -> Path:
    """The state directory: ``$FERRYMAN_HOME``, or the per-user default."""
    explicit = os.environ.get(HOME_VARIABLE, "").strip()
    return (Path(explicit).expanduser() if explicit else default_home()).resolve()


def describe_home() -> str:
    """The state home and where it came from, for messages: ``/x (FERRYMAN_HOME)``."""
    origin = HOME_VARIABLE if os.environ.get(HOME_VARIABLE, "").strip() else "default"
    return f"{home()} ({origin})"


def artifacts_dir() -> Path:
    """Content-addressed artifact store."""
    return home() / "artifacts"


def workspaces_dir() -> Path:
    """Build workspaces, one per release and build node."""
    return home() / "workspaces"


def logs_dir() -> Path:
    """Captured build-step logs."""
    return home() / "logs"


def dev_logs_dir() -> Path:
    """Logs of the dev stack's own processes (Temporal, agent, worker)."""
    return home() / "dev-logs"


def builds_dir() -> Path:
    """Build history: one record per finished build."""
    return home() / "builds"


def agent_dir() -> Path:
    """The local platform agent's state (SQLite, instance logs, unpacked artifacts)."""
    return home() / "agent"
