"""The ``haproxy`` traffic backend: Debian's HAProxy, started and supervised by the agent.

One HAProxy (master-worker, one thread) serves every (environment, region)
with a frontend each. What changes often changes at runtime, through the
admin socket and without a reload: split weights (``set weight``), rules
and generations (``add map``), and the switch to a new table (one
``set map``; see :mod:`ferryman.providers.local.haproxy_config`). What
changes the shape (a new region or service, instances started or stopped)
rewrites the config and reloads hitlessly (SIGUSR2 to the master).

Metrics: once a second the agent reads ``show stat`` and adds what each
server answered (by status class: ``2xx``, ``5xx``…) to the region's
:class:`~ferryman.providers.local.stats.RouterStats`, served under the same
names as a built-in router's (``/metrics``, ``/_ferryman/stats``, through the
frontend). HAProxy keeps no latency histogram: each server's requests are
counted at its recent average total time, so latency quantiles are estimates.

Not supported: mirroring (HAProxy cannot copy requests without an external
agent; such a table is refused) and ``X-Ferryman-Client-Zone``.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from ferryman.platform.backends import unsupported
from ferryman.platform.models import RouteTable
from ferryman.providers.local import haproxy_config as config
from ferryman.providers.local import processes
from ferryman.providers.local.state import AgentStore
from ferryman.providers.local.stats import RouterStats
from ferryman.providers.local.traffic import Routing, TrafficError, Where

log = logging.getLogger("ferryman.agent")

MARKER_VAR = "FERRYMAN_ROUTER"
_READY_S = 15.0
_RELOAD_AGAIN_S = 0.5


class HAProxyTraffic:
    """Every region's frontend on one supervised HAProxy.

    Args:
        state_dir: The agent's state dir (``haproxy/`` holds config, maps and sockets).
        host: Interface the frontends listen on.
        store: Where ports, the pid and events are recorded.
        binary: The haproxy executable (default: ``haproxy`` on PATH, or /usr/sbin/haproxy).
    """

    name = "haproxy"

    def __init__(
        self, state_dir: Path, host: str, store: AgentStore, binary: str | None = None
    ) -> None:
        self._dir = state_dir / "haproxy"
        self._host = host
        self._store = store
        self._binary = binary or shutil.which("haproxy") or "/usr/sbin/haproxy"
        self._installed = shutil.which(self._binary) is not None
        self._ident = f"haproxy@{state_dir.resolve()}"
        self._routings: dict[Where, Routing] = {}
        self._ports: dict[Where, int] = {}
        self._slots: dict[tuple[Where, str], int] = {}
        self._stats: dict[Where, RouterStats] = {}
        self._seen: dict[tuple[str, str], tuple[int, ...]] = {}
        self._agent: str | None = None
        self._pid: int | None = None
        self._child: subprocess.Popen[bytes] | None = None
        self._lock = asyncio.Lock()

    def refuse(self, table: RouteTable) -> str | None:
        """Why HAProxy cannot serve ``table`` (mirroring), or None."""
        return unsupported("haproxy", table)

    async def start(
        self, routers: Mapping[Where, tuple[int, int | None]], routings: list[Routing]
    ) -> None:
        """Adopt the HAProxy a previous agent left, or start one with every region."""
        if not self._installed:
            raise TrafficError(
                f"haproxy is not installed ({self._binary}): `apt-get install haproxy`"
            )
        self._dir.mkdir(parents=True, exist_ok=True)
        saved = self._load_slots()
        self._slots.update(saved)
        for routing in routings:
            self._routings[routing.where] = routing
        for where, (port, pid) in routers.items():
            self._ports[where] = port
            self._stats[where] = RouterStats(*where)
            self._routings.setdefault(where, Routing(*where))
            self._pid = pid or self._pid
        if not self._ports:
            return
        if self._pid is not None and processes.is_instance(self._pid, self._ident, MARKER_VAR):
            text = self._render()
            if (self._dir / "haproxy.cfg").exists() and (
                self._dir / "haproxy.cfg"
            ).read_text() == text:
                self._record("router.adopted")
                return
            await self._reload()
            self._record("router.adopted")
            return
        await self._launch("router.started")

    async def open(self, where: Where, port: int) -> int:
        """Add a frontend for a new (environment, region)."""
        async with self._lock:
            self._ports[where] = port
            self._routings[where] = Routing(*where)
            self._stats[where] = RouterStats(*where)
            if self._alive():
                await self._reload()
            else:
                await self._launch("router.started")
            self._store.save_router(where[0], where[1], port, self._pid)
            return port

    async def push(self, routing: Routing, new_table: bool) -> None:
        """Apply a routing: weights and maps at runtime, a reload when the shape changed."""
        async with self._lock:
            old = self._routings.get(routing.where)
            self._routings[routing.where] = routing
            if not self._alive():
                await self._launch("router.restarted")
                return
            if old is None or _shape(old) != _shape(routing):
                await self._reload()
                return
            commands = []
            for service, table in sorted(routing.tables.items()):
                key = (routing.where, service)
                current = self._slots.get(key, 0)
                slot = 1 - current if new_table else current
                commands += self._table_commands(routing, service, table, slot)
                if new_table:
                    self._slots[key] = slot
                    commands += self._switch_commands(routing, service, slot)
            try:
                await self._admin(commands)
            except TrafficError:
                self._routings[routing.where] = old
                raise
            self._save_slots()

    def urls(self) -> dict[Where, str]:
        """Each frontend's URL."""
        return {w: f"http://{self._host}:{p}" for w, p in sorted(self._ports.items())}

    def scrape_targets(self) -> list[dict[str, object]]:
        """Each region's metrics, served by the agent from HAProxy's counters."""
        if self._agent is None:
            return []
        return [
            {
                "targets": [self._agent.removeprefix("http://")],
                "labels": {
                    "environment": where[0],
                    "region": where[1],
                    "__metrics_path__": f"/v1/env/{where[0]}/router/{where[1]}/metrics",
                },
            }
            for where in sorted(self._ports)
        ]

    async def supervise(self, routing: dict[Where, Routing]) -> None:
        """Restart HAProxy if it died; read its counters."""
        if not self._ports:
            return
        async with self._lock:
            if not self._alive():
                self._record("router.exited")
                self._routings.update(routing)
                try:
                    await self._launch("router.restarted")
                except TrafficError as error:
                    log.warning("haproxy: %s", error)
                return
        try:
            await self._collect()
        except TrafficError as error:
            log.warning("haproxy counters: %s", error)

    async def agent_url(self, url: str) -> None:
        """Route the frontends' ``/metrics`` and ``/_ferryman/*`` to the agent."""
        changed = self._agent != url
        self._agent = url
        if changed and self._alive():
            async with self._lock:
                await self._reload()

    async def close(self, stop_routers: bool) -> None:
        """Leave HAProxy serving, or stop it."""
        if stop_routers and self._pid is not None:
            await processes.stop_group(self._pid, self._ident, self._child, 5.0, MARKER_VAR)
            self._record("router.stopped")

    def page(self, where: Where, path: str, window: float) -> tuple[str, str] | None:
        """A built-in router's own pages for a region, from HAProxy's counters."""
        stats = self._stats.get(where)
        routing = self._routings.get(where)
        if stats is None or routing is None:
            return None
        if path == "/_ferryman/stats":
            return "application/json", json.dumps(stats.window_json(window))
        if path == "/_ferryman/table":
            body = {
                "environment": where[0],
                "region": where[1],
                "generation": routing.generation,
                "services": {s: t.model_dump(mode="json") for s, t in routing.tables.items()},
            }
            return "application/json", json.dumps(body)
        return "text/plain", "\n".join(stats.render()) + "\n"

    # -- runtime API -------------------------------------------------------

    def _table_commands(
        self, routing: Routing, service: str, table: RouteTable, slot: int
    ) -> list[str]:
        where = routing.where
        members = tuple(b for b in routing.backends if b.service == service)
        backend = config.slot_backend(where, service, slot)
        commands = [
            f"set weight {backend}/{name} {weight}"
            for name, weight in config.weights(table, members).items()
        ]
        commands += [
            f"set weight {config.version_backend(where, service, b.version)}/{config.server(b)}"
            f" {1 if b.serving else 0}"
            for b in members
        ]
        maps = self._dir
        commands += [
            f"del map {maps / 'generations.map'} {backend}",
            f"add map {maps / 'generations.map'} {backend} {routing.generation}",
            f"del map {maps / 'rules.map'} {backend}",
        ]
        value = config.rules_value(where, table)
        if value is not None:
            commands.append(f"add map {maps / 'rules.map'} {backend} {value}")
        return commands

    def _switch_commands(self, routing: Routing, service: str, slot: int) -> list[str]:
        fe = config.frontend(routing.where)
        backend = config.slot_backend(routing.where, service, slot)
        path = self._dir / "backends.map"
        commands = [f"set map {path} {fe}/{service} {backend}"]
        if len(routing.tables) == 1:
            commands.append(f"set map {path} {fe}/* {backend}")
        return commands

    async def _admin(self, commands: list[str]) -> str:
        """Run admin-socket commands; a refused one is an error."""
        out = []
        for start in range(0, len(commands), 50):
            batch = commands[start : start + 50]
            answer = await self._socket("; ".join(batch))
            for line in answer.splitlines():
                lowered = line.lower()
                if any(w in lowered for w in ("unknown", "no such", "error", "not found")):
                    if "not found" in lowered and "key" in lowered:  # del of an absent map key
                        continue
                    raise TrafficError(f"haproxy refused: {line.strip()}")
            out.append(answer)
        return "".join(out)

    async def _socket(self, command: str) -> str:
        try:
            async with asyncio.timeout(5):
                reader, writer = await asyncio.open_unix_connection(str(self._dir / "admin.sock"))
                writer.write(command.encode() + b"\n")
                data = await reader.read()
                writer.close()
        except (OSError, TimeoutError) as error:
            raise TrafficError(f"haproxy admin socket: {error or type(error).__name__}") from None
        return data.decode(errors="replace")

    async def _collect(self) -> None:
        """Add what each server answered since the last look to its region's stats."""
        text = await self._socket("show stat")
        rows = csv.DictReader(io.StringIO(text.lstrip("# ")))
        for row in rows:
            proxy, name = row.get("pxname", ""), row.get("svname", "")
            parts = proxy.split(":")
            if proxy[:2] not in ("s:", "v:") or len(parts) != 5 or name.count(":") < 2:
                continue
            where: Where = (parts[1], parts[2])
            stats = self._stats.get(where)
            if stats is None:
                continue
            counts = tuple(int(row.get(f"hrsp_{k}xx") or 0) for k in range(1, 6))
            before = self._seen.get((proxy, name), (0,) * 5)
            if any(c < b for c, b in zip(counts, before, strict=True)):
                before = (0,) * 5  # HAProxy reloaded: counters started again
            self._seen[(proxy, name)] = counts
            version, zone = name.split(":")[:2]
            seconds = int(row.get("ttime") or 0) / 1000
            for k, (now, was) in enumerate(zip(counts, before, strict=True), start=1):
                if now > was:
                    stats.observe(parts[3], version, zone, f"{k}xx", seconds, now - was)
        for stats in self._stats.values():
            stats.snapshot()

    # -- the process -------------------------------------------------------

    def _alive(self) -> bool:
        if self._pid is None:
            return False
        if self._child is not None:
            return self._child.poll() is None
        return processes.is_instance(self._pid, self._ident, MARKER_VAR)

    def _render(self) -> str:
        routings = {w: self._routings.get(w, Routing(*w)) for w in self._ports}
        config.write_maps(self._dir, config.map_entries(routings, self._slots))
        return config.render(routings, self._ports, self._slots, self._dir, self._host, self._agent)

    async def _launch(self, event: str) -> None:
        (self._dir / "haproxy.cfg").write_text(self._render())
        check = await asyncio.to_thread(
            subprocess.run,
            [self._binary, "-c", "-f", str(self._dir / "haproxy.cfg")],
            capture_output=True,
            text=True,
        )
        if check.returncode != 0:
            alerts = [ln for ln in check.stderr.splitlines() if "ALERT" in ln]
            raise TrafficError(
                f"haproxy refused its config: {_last(alerts[0] if alerts else check.stderr)}"
            )
        (self._dir / "admin.sock").unlink(missing_ok=True)
        argv = [self._binary, "-W", "-f", str(self._dir / "haproxy.cfg")]
        log_path = self._dir / "haproxy.log"
        self._child = _spawn(argv, {**os.environ, MARKER_VAR: self._ident}, log_path)
        self._pid = self._child.pid
        await self._wait_worker(None)
        for where, port in self._ports.items():
            self._store.save_router(where[0], where[1], port, self._pid)
        self._record(event)

    async def _reload(self) -> None:
        (self._dir / "haproxy.cfg").write_text(self._render())
        before = await self._worker_pid()
        assert self._pid is not None
        os.kill(self._pid, signal.SIGUSR2)
        await self._wait_worker(before, reload=True)

    async def _worker_pid(self) -> str | None:
        try:
            info = await self._socket("show info")
        except TrafficError:
            return None
        return next(
            (ln.split(":", 1)[1].strip() for ln in info.splitlines() if ln.startswith("Pid:")), None
        )

    async def _wait_worker(self, before: str | None, reload: bool = False) -> None:
        """Wait until a worker other than ``before`` answers.

        A master that has just started drops a SIGUSR2 that comes before it set up
        its signal handling (its worker may already answer by then), so a reload
        is asked for again every half second until a new worker answers.
        """
        deadline = time.monotonic() + _READY_S
        again = time.monotonic() + _RELOAD_AGAIN_S
        while True:
            pid = await self._worker_pid()
            if pid is not None and pid != before:
                return
            if reload and self._pid is not None and time.monotonic() > again:
                os.kill(self._pid, signal.SIGUSR2)
                again = time.monotonic() + _RELOAD_AGAIN_S
            if self._child is not None and self._child.poll() is not None:
                tail = _last((self._dir / "haproxy.log").read_text(errors="replace"))
                raise TrafficError(f"haproxy exited: {tail}")
            if time.monotonic() > deadline:
                raise TrafficError(f"haproxy did not (re)start within {_READY_S:g}s")
            await asyncio.sleep(0.02)

    def _record(self, kind: str) -> None:
        for where in sorted(self._ports):
            url = f"http://{self._host}:{self._ports[where]}"
            self._store.record_event(kind, pid=self._pid, detail=f"{where[0]}/{where[1]} {url}")

    def _load_slots(self) -> dict[tuple[Where, str], int]:
        path = self._dir / "slots.json"
        if not path.exists():
            return {}
        raw = json.loads(path.read_text())
        return {((e, r), s): int(v) for e, r, s, v in raw}

    def _save_slots(self) -> None:
        rows = [[w[0], w[1], s, v] for (w, s), v in sorted(self._slots.items())]
        (self._dir / "slots.json").write_text(json.dumps(rows))


def _shape(routing: Routing) -> tuple[object, ...]:
    """What needs a reload to change: services routed and the servers (instances, ports)."""
    servers = sorted((b.service, b.version, b.zone, b.id, b.port) for b in routing.backends)
    return (sorted(routing.tables), servers)


def _last(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "no output"


def _spawn(argv: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as out:
        return subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
