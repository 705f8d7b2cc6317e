"""Start, watch and stop the dev stack's child processes (each in its own session)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from ferryman.errors import DevStackError
from ferryman.providers.local.processes import port_is_free


def http_ok(url: str, timeout_s: float = 1.0) -> bool:
    """Whether ``GET url`` answers 200 right now."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def require_free(port: int, what: str, flag: str) -> None:
    """Raise a one-line ``DevStackError`` if ``port`` is taken."""
    if not port_is_free(port):
        raise DevStackError(
            f"port {port} for {what} is already in use (choose another with {flag})"
        )


def spawn(
    argv: list[str], log_path: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a new session with output appended to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )


def wait_until(
    check: Callable[[], bool],
    timeout_s: float,
    what: str,
    process: subprocess.Popen[bytes] | None = None,
    log_path: Path | None = None,
) -> None:
    """Poll ``check`` until it is true; fail early if ``process`` exits.

    Raises:
        DevStackError: On time-out or if the process died, quoting its last log line.
    """
    deadline = time.monotonic() + timeout_s
    while not check():
        if process is not None and process.poll() is not None:
            raise DevStackError(f"{what} exited with code {process.returncode}{_tail(log_path)}")
        if time.monotonic() > deadline:
            raise DevStackError(f"{what} not ready after {timeout_s:g}s{_tail(log_path)}")
        time.sleep(0.1)


def _tail(log_path: Path | None) -> str:
    if log_path is None or not log_path.exists():
        return ""
    lines = [line for line in log_path.read_text(errors="replace").splitlines() if line.strip()]
    return f": {lines[-1][:300]}" if lines else ""


def pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists (and is not a zombie of ours)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def stop_group(pid: int, timeout_s: float = 10.0) -> None:
    """SIGTERM a process group, then SIGKILL it if it outlives ``timeout_s``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            if not pid_alive(pid):
                return
            time.sleep(0.05)
