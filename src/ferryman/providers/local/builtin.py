"""The ``builtin`` traffic backend: ferryman's own router, one process per region.

Each (environment, region) has a router process
(:mod:`ferryman.providers.local.routerproc`) in its own session, so it keeps
serving while the agent restarts or is killed. Like an instance it carries its
identity in its environment (``FERRYMAN_ROUTER``); a restarted agent adopts a
live router whose ``/proc/<pid>/environ`` says so, and restarts a dead one on
the same port with the routing it had. Events: ``router.started``,
``router.adopted``, ``router.restarted``, ``router.stopped``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ferryman.platform.models import RouteTable
from ferryman.providers.local import control, processes
from ferryman.providers.local.state import AgentStore
from ferryman.providers.local.traffic import Routing, TrafficError, Where

log = logging.getLogger("ferryman.agent")

ROUTER_VAR = "FERRYMAN_ROUTER"
_READY_S = 15.0


@dataclass
class _Router:
    where: Where
    ident: str
    port: int
    pid: int | None = None
    child: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> str:
        return control.socket_name(self.ident)

    def alive(self) -> bool:
        if self.pid is None:
            return False
        if self.child is not None:
            return self.child.poll() is None
        return processes.is_instance(self.pid, self.ident, ROUTER_VAR)


class BuiltinTraffic:
    """Router processes of every (environment, region).

    Args:
        state_dir: The agent's state dir (routing files, logs, identities).
        host: Interface the routers listen on.
        store: Where router ports, pids and events are recorded.
    """

    name = "builtin"

    def __init__(self, state_dir: Path, host: str, store: AgentStore) -> None:
        self._dir = state_dir
        self._host = host
        self._store = store
        self._routers: dict[Where, _Router] = {}
        self._agent_url: str | None = None
        self._locks: dict[Where, asyncio.Lock] = {}

    def refuse(self, table: RouteTable) -> str | None:
        """The built-in router serves every kind of table."""
        return None

    async def start(
        self, routers: Mapping[Where, tuple[int, int | None]], routings: list[Routing]
    ) -> None:
        """Adopt live routers, restart dead ones on their ports."""
        by_where = {r.where: r for r in routings}
        for where, (port, pid) in routers.items():
            routing = by_where.get(where, Routing.at(where))
            router = _Router(where, control.identity(self._dir, where), port, pid)
            self._routers[where] = router
            if router.alive():
                try:
                    await self._apply(router, routing, new_table=True)
                except TrafficError as error:
                    log.warning("router of %s/%s did not answer: %s", *where, error)
                else:
                    self._event("router.adopted", router)
                    continue
                await processes.stop_group(router.pid or 0, router.ident, None, 2.0, ROUTER_VAR)
            await self._spawn(router, routing, "router.started")

    async def open(self, where: Where, port: int) -> int:
        """Start the router of a new (environment, region)."""
        router = _Router(where, control.identity(self._dir, where), port)
        await self._spawn(router, Routing.at(where), "router.started")
        self._routers[where] = router
        return router.port

    async def push(self, routing: Routing, new_table: bool) -> None:
        """Send a routing to its router; restart the router with it if it is gone."""
        router = self._routers.get(routing.where)
        if router is None:
            raise TrafficError(f"no router for {routing.environment}/{routing.region}")
        async with self._locks.setdefault(routing.where, asyncio.Lock()):
            try:
                await self._apply(router, routing, new_table)
            except TrafficError:
                if router.alive():
                    raise
                await self._spawn(router, routing, "router.restarted")

    async def call(
        self, where: Where, message: dict[str, Any], seconds: float = 5.0
    ) -> dict[str, Any]:
        """Send one message to a router's control channel (two-phase ops, the request log).

        Raises:
            TrafficError: There is no such router, or it refused or did not answer.
        """
        router = self._routers.get(where)
        if router is None:
            raise TrafficError(f"no router for {where[0]}/{where[1]}")
        return await control.call(router.socket, message, seconds)

    def urls(self) -> dict[Where, str]:
        """Each router's URL."""
        return {w: f"http://{self._host}:{r.port}" for w, r in sorted(self._routers.items())}

    def scrape_targets(self) -> list[dict[str, object]]:
        """Every router's own ``/metrics``."""
        return [
            {
                "targets": [f"{self._host}:{router.port}"],
                "labels": {"environment": where[0], "region": where[1]},
            }
            for where, router in sorted(self._routers.items())
        ]

    async def supervise(self, routing: dict[Where, Routing]) -> None:
        """Restart routers whose process died, on the same port with their routing."""
        for where, router in list(self._routers.items()):
            if router.alive():
                continue
            async with self._locks.setdefault(where, asyncio.Lock()):
                if router.alive():
                    continue
                self._event("router.exited", router)
                try:
                    await self._spawn(
                        router, routing.get(where, Routing.at(where)), "router.restarted"
                    )
                except TrafficError as error:
                    log.warning("router of %s/%s: %s", *where, error)

    async def agent_url(self, url: str) -> None:
        """Tell every router where to report ejections."""
        self._agent_url = url
        for router in self._routers.values():
            try:
                await control.call(router.socket, {"op": "agent", "url": url})
            except TrafficError as error:
                log.warning("router of %s/%s: %s", *router.where, error)

    async def close(self, stop_routers: bool) -> None:
        """Leave routers serving, or stop them."""
        if not stop_routers:
            return
        for router in self._routers.values():
            if router.pid is not None:
                await processes.stop_group(router.pid, router.ident, router.child, 5.0, ROUTER_VAR)
                self._event("router.stopped", router)

    async def _apply(self, router: _Router, routing: Routing, new_table: bool) -> None:
        message = {"op": "apply", "routing": routing.to_json(), "new_table": new_table}
        await control.call(router.socket, message)

    async def _spawn(self, router: _Router, routing: Routing, event: str) -> None:
        environment, region = router.where
        files = self._dir / "routers"
        files.mkdir(parents=True, exist_ok=True)
        first = files / f"{environment}--{region}.json"
        first.write_text(json.dumps({"routing": routing.to_json(), "agent_url": self._agent_url}))
        log_path = self._dir / "logs" / f"router-{environment}--{region}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        argv = [
            sys.executable, "-m", "ferryman.providers.local.routerproc",
            "--routing", str(first), "--host", self._host, "--port", str(router.port),
            "--control", "@" + router.socket.lstrip("\0"),
        ]  # fmt: skip
        child = _launch(argv, {**os.environ, ROUTER_VAR: router.ident}, log_path)
        deadline = time.monotonic() + _READY_S
        while True:
            try:
                state = await control.call(router.socket, {"op": "state"}, seconds=1.0)
            except TrafficError:
                if child.poll() is not None:
                    tail = log_path.read_text(errors="replace").strip().splitlines()[-1:]
                    raise TrafficError(
                        f"router of {environment}/{region} exited: {' '.join(tail)}"
                    ) from None
                if time.monotonic() > deadline:
                    child.kill()
                    raise TrafficError(
                        f"router of {environment}/{region} did not start in {_READY_S:g}s"
                    ) from None
                await asyncio.sleep(0.02)
                continue
            if int(state["pid"]) == child.pid:
                break
            await asyncio.sleep(0.02)
        router.pid, router.child, router.port = child.pid, child, int(state["port"])
        self._store.save_router(environment, region, router.port, router.pid)
        self._event(event, router)

    def _event(self, kind: str, router: _Router) -> None:
        environment, region = router.where
        url = f"http://{self._host}:{router.port}"
        self._store.record_event(kind, pid=router.pid, detail=f"{environment}/{region} {url}")
        log.info("%s: %s/%s on %s (pid %s)", kind, environment, region, url, router.pid)


def _launch(argv: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """Start a router process in its own session, its output appended to ``log_path``."""
    with log_path.open("ab") as out:
        return subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
