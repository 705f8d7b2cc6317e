"""Operating-system side of instances: spawn a process group, recognise it, stop it.

A pid alone is not proof of identity: after the agent restarts, the pid it
remembers may belong to an unrelated process. Each instance carries
``FERRYMAN_INSTANCE=<id>`` in its environment, and a process counts as the
instance only if its ``/proc/<pid>/environ`` says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

_PROC = Path("/proc")
IDENTITY_VAR = "FERRYMAN_INSTANCE"


def spawn(
    command: str, cwd: str, env: Mapping[str, str], log_path: Path
) -> subprocess.Popen[bytes]:
    """Start ``bash -c command`` as the leader of a new session, output appended to a log.

    Args:
        command: The shell command.
        cwd: Working directory.
        env: The complete environment.
        log_path: File receiving stdout and stderr.

    Returns:
        The process handle; its pid is also the process group id.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            ["bash", "-c", command],
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _environ(pid: int) -> list[bytes] | None:
    try:
        return (_PROC / str(pid) / "environ").read_bytes().split(b"\0")
    except OSError:
        return None


def _is_zombie(pid: int) -> bool:
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def is_instance(pid: int, instance_id: str, var: str = IDENTITY_VAR) -> bool:
    """Whether ``pid`` is alive and is the process of ``instance_id``.

    Where ``/proc`` is missing the identity check is skipped and only liveness counts.

    Args:
        pid: The process.
        instance_id: The identity it must carry.
        var: The environment variable carrying it (routers use their own).
    """
    if not _PROC.is_dir():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    environ = _environ(pid)
    if environ is None or _is_zombie(pid):
        return False
    return f"{var}={instance_id}".encode() in environ


def members(instance_id: str, var: str = IDENTITY_VAR) -> list[int]:
    """Every live process carrying the instance's identity (leader and leftovers)."""
    if not _PROC.is_dir():
        return []
    marker = f"{var}={instance_id}".encode()
    found = []
    for entry in _PROC.iterdir():
        if entry.name.isdigit():
            environ = _environ(int(entry.name))
            if environ is not None and marker in environ and not _is_zombie(int(entry.name)):
                found.append(int(entry.name))
    return found


def kill_all(pids: Iterable[int]) -> None:
    """SIGKILL processes that may already be gone."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


async def stop_group(
    pid: int,
    instance_id: str,
    child: subprocess.Popen[bytes] | None,
    grace: float = 5.0,
    var: str = IDENTITY_VAR,
) -> None:
    """SIGTERM an instance's process group, SIGKILL it if still alive after ``grace`` seconds.

    Args:
        pid: The group leader, also the group id.
        instance_id: Identity checked before signalling, so a recycled pid is left alone.
        child: The handle when the agent spawned the process itself, used to reap it.
        grace: Seconds between SIGTERM and SIGKILL.
        var: The environment variable carrying the identity.
    """

    def alive() -> bool:
        if child is not None:
            return child.poll() is None
        return is_instance(pid, instance_id, var)

    if alive():
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not alive():
                break
            await asyncio.sleep(0.05)
        _signal_group(pid, signal.SIGKILL)
    kill_all(members(instance_id, var))
    if child is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=1)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a TCP port can be bound on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(avoid: Iterable[int] = (), host: str = "127.0.0.1") -> int:
    """A TCP port the kernel calls free, other than those in ``avoid``."""
    taken = set(avoid)
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port: int = sock.getsockname()[1]
        if port not in taken:
            return port
