"""The CLI against a real dev stack: dev --detach, release, status, logs, down, and restarts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ferryman.devstack.processes import pid_alive
from ferryman.testing import free_port

pytestmark = pytest.mark.integration

FERRYMAN = [sys.executable, "-m", "ferryman"]


def ferryman(
    *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FERRYMAN, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture
def stack_env(ferryman_home: Path) -> Iterator[dict[str, str]]:
    """Environment for CLI calls with a private home and free ports; tears the stack down."""
    env = {**os.environ, "FERRYMAN_HOME": str(ferryman_home), "COLUMNS": "200"}
    yield env
    ferryman("down", env=env)


def ports() -> list[str]:
    return [
        "--temporal-port", str(free_port()), "--ui-port", str(free_port()),
        "--agent-port", str(free_port()), "--router-base-port", str(free_port()),
        "--server-port", str(free_port()),
    ]  # fmt: skip


def recorded_pids(home: Path) -> dict[str, int]:
    return dict(json.loads((home / "dev.json").read_text())["pids"])


def test_detached_stack_releases_and_keeps_history_across_restarts(
    stack_env: dict[str, str], ferryman_home: Path, hello_spec: Path
) -> None:
    up = ferryman("dev", "--detach", *ports(), env=stack_env)
    assert up.returncode == 0, up.stderr
    assert "Web UI" in up.stdout
    pids = recorded_pids(ferryman_home)
    assert set(pids) == {"temporal", "agent", "worker", "server"}

    released = ferryman("release", str(hello_spec), "--env", "dev", env=stack_env)
    assert released.returncode == 0, released.stdout + released.stderr
    assert "release/hello/dev/1" in released.stdout
    url = next(w for w in released.stdout.split() if w.startswith("http://127.0.0.1:"))
    assert httpx.get(url, timeout=5).json()["greeting"] == "hello from ferryman"

    status = ferryman("status", env=stack_env)
    assert "release/hello/dev/1" in status.stdout and "completed" in status.stdout
    detail = ferryman("status", "release/hello/dev/1", env=stack_env)
    assert "phase done" in detail.stdout and "router serves web" in detail.stdout
    logs = ferryman("logs", "release/hello/dev/1", "--step", "test", env=stack_env)
    assert logs.returncode == 0 and "Ran 2 tests" in logs.stdout

    down = ferryman("down", env=stack_env)
    assert down.returncode == 0
    assert not any(pid_alive(pid) for pid in pids.values())
    with pytest.raises(httpx.TransportError):
        httpx.get(url, timeout=2)

    again = ferryman("dev", "--detach", *ports(), env=stack_env)
    assert again.returncode == 0, again.stderr
    history = ferryman("status", env=stack_env)
    assert "release/hello/dev/1" in history.stdout, "the SQLite history survived the restart"
    second = ferryman("release", str(hello_spec), "--env", "dev", "--detach", env=stack_env)
    assert "release/hello/dev/2" in second.stdout


def test_taken_port_is_a_one_line_error_and_starts_nothing(
    stack_env: dict[str, str], ferryman_home: Path
) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        args = ports()
        args[args.index("--agent-port") + 1] = str(port)
        result = ferryman("dev", "--detach", *args, env=stack_env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: port {port} for the local agent is already in use (choose another with "
        "--agent-port)"
    ]
    assert "Traceback" not in result.stderr
    assert not (ferryman_home / "dev.json").exists()


def test_ctrl_c_stops_every_process(stack_env: dict[str, str], ferryman_home: Path) -> None:
    process = subprocess.Popen(
        [*FERRYMAN, "dev", *ports()],
        env=stack_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 90
    ready = False
    for line in process.stdout:
        ready = "press Ctrl-C" in line
        if ready or time.monotonic() > deadline:
            break
    assert ready, "ferryman dev never said it was up"
    pids = recorded_pids(ferryman_home)
    assert set(pids) == {"temporal", "agent", "worker", "server"}
    assert all(pid_alive(pid) for pid in pids.values())
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 0
    assert not any(pid_alive(pid) for pid in pids.values())
    assert not (ferryman_home / "dev.json").exists()


def test_release_without_a_stack_fails_in_one_line(
    stack_env: dict[str, str], hello_spec: Path
) -> None:
    env = {**stack_env, "FERRYMAN_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}"}
    result = ferryman("release", str(hello_spec), "--env", "dev", env=env)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "cannot reach Temporal" in result.stderr and "connection refused" in result.stderr
