"""Real processes for tests: a Temporal dev server and the local platform agent."""

from __future__ import annotations

import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen

from ferryman.devstack.processes import http_ok, spawn, stop_group, wait_until
from ferryman.devstack.stack import temporal_binary
from ferryman.providers.local.holds import ENV_VAR as HOLDS_ENV_VAR
from ferryman.temporal.names import SEARCH_ATTRIBUTES


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class TemporalDevServer:
    """``temporal server start-dev`` with ferryman's search attributes.

    Attributes:
        db_file: Keep the history in this SQLite file (default: in memory), so
            :meth:`restart` finds every workflow where it was.
    """

    log_dir: Path
    port: int = field(default_factory=free_port)
    ui_port: int = field(default_factory=free_port)
    db_file: Path | None = None
    process: Popen[bytes] | None = None

    @property
    def address(self) -> str:
        """``host:port`` of the frontend."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> TemporalDevServer:
        """Start the server and wait until its namespace answers."""
        argv = [
            temporal_binary(), "server", "start-dev", "--ip", "127.0.0.1",
            "--port", str(self.port), "--ui-port", str(self.ui_port), "--log-level", "warn",
        ]  # fmt: skip
        if self.db_file is not None:
            argv += ["--db-filename", str(self.db_file)]
        for key in SEARCH_ATTRIBUTES:
            argv += ["--search-attribute", f"{key.name}=Keyword"]
        log = self.log_dir / "temporal.log"
        self.process = spawn(argv, log)
        url = f"http://127.0.0.1:{self.ui_port}/api/v1/namespaces/default"
        wait_until(lambda: http_ok(url), 90, "Temporal dev server", self.process, log)
        return self

    def stop(self) -> None:
        """Stop the server."""
        if self.process is not None:
            stop_group(self.process.pid)
            self.process = None

    def restart(self) -> None:
        """Stop the server and start it again on the same ports (and SQLite file, if any)."""
        self.stop()
        self.start()


def start_worker(
    temporal_address: str,
    agent_url: str,
    log: Path,
    *extra: str,
    module: str = "ferryman.temporal.worker",
    env: dict[str, str] | None = None,
) -> Popen[bytes]:
    """``ferryman worker`` as its own process; returns once ready.

    Args:
        temporal_address: The cluster.
        agent_url: The local platform agent.
        log: Where its output goes.
        extra: More options, e.g. ``--region eu-1`` (default: a central worker).
        module: The module run with ``python -m`` (``ferryman.testing.faulty_provider``:
            the same worker with provider faults).
        env: More environment variables for it.
    """
    from ferryman.temporal.worker.main import READY_LINE

    argv = [
        sys.executable, "-m", module,
        "--temporal-address", temporal_address, "--agent-url", agent_url, *extra,
    ]  # fmt: skip
    log.unlink(missing_ok=True)
    process = spawn(argv, log, env=env)
    wait_until(lambda: log.exists() and READY_LINE in log.read_text(), 60, "worker", process, log)
    return process


@dataclass
class AgentProcess:
    """The local platform agent as its own process, on free ports.

    Attributes:
        holds: Start it with test holds enabled (see ``ferryman.testing.holds``).
    """

    state_dir: Path
    port: int = field(default_factory=free_port)
    router_base_port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    stop_instances_on_exit: bool = True
    traffic_backend: str = "builtin"
    holds: bool = False
    process: Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL of the agent's API."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> AgentProcess:
        """Start the agent and wait until it answers."""
        argv = [
            sys.executable, "-m", "ferryman.providers.local.agent",
            "--state-dir", str(self.state_dir), "--port", str(self.port),
            "--router-base-port", str(self.router_base_port),
            "--traffic-backend", self.traffic_backend,
        ]  # fmt: skip
        if self.stop_instances_on_exit:
            argv.append("--stop-instances-on-exit")
        log = self.state_dir.parent / "agent.log"
        env = {**self.env, HOLDS_ENV_VAR: "1"} if self.holds else self.env
        self.process = spawn(argv, log, env=env)
        wait_until(lambda: http_ok(f"{self.url}/v1/health"), 30, "local agent", self.process, log)
        return self

    def stop(self) -> None:
        """Stop the agent (and, with it, its instances)."""
        if self.process is not None:
            stop_group(self.process.pid, timeout_s=15)
            self.process = None

    def kill(self) -> None:
        """SIGKILL the agent alone, as a crash would; its instances keep running."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None
