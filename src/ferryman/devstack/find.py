"""Finding a dev stack that another state home recorded, to say where it is.

``ferryman down`` with nothing recorded asks the default agent port whether an
agent answers there anyway; if one does, its command line names its state
directory, and so the ``FERRYMAN_HOME`` that stops it.
"""

from __future__ import annotations

import itertools
import json
import urllib.request
from pathlib import Path

DEFAULT_AGENT_URL = "http://127.0.0.1:7480"
"""Where ``ferryman dev`` starts the local agent unless told otherwise."""


def agent_pid(agent_url: str, timeout_s: float = 1.0) -> int | None:
    """The pid the agent at ``agent_url`` reports, or None when nothing answers."""
    try:
        with urllib.request.urlopen(f"{agent_url}/v1/health", timeout=timeout_s) as answer:
            pid = json.loads(answer.read()).get("pid")
    except (OSError, ValueError, AttributeError):
        return None
    return pid if isinstance(pid, int) else None


def state_dir_of(pid: int) -> Path | None:
    """The ``--state-dir`` an agent process was started with (Linux ``/proc``), if readable."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return None
    for flag, value in itertools.pairwise(argv):
        if flag == "--state-dir":
            return Path(value)
    return None


def stray_stack(agent_url: str) -> str | None:
    """One line about an agent answering at ``agent_url`` that this home did not record."""
    pid = agent_pid(agent_url)
    if pid is None:
        return None
    state = state_dir_of(pid)
    if state is None:
        return f"a local agent answers at {agent_url} (pid {pid}), started from another state home"
    home = state.parent
    return (
        f"a local agent answers at {agent_url} (pid {pid}) with state in {state}: "
        f"stop its stack with `FERRYMAN_HOME={home} ferryman down`"
    )
