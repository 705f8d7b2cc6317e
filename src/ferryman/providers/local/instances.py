"""Instances: launch, health-check, supervise, re-adopt and retire them.

The supervisor wakes every ``interval`` seconds: a dead process is restarted
(at once the first time, then with exponential backoff while it keeps dying
before ever answering healthy), a live one is probed over HTTP and marked
``healthy`` or ``unhealthy``. A fresh process stays ``starting`` until its
first good answer or until ``start_grace`` runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import aiohttp

from ferryman.platform.models import HealthReport, InstanceRequest
from ferryman.providers.local import processes
from ferryman.providers.local.records import InstanceRecord, Launch
from ferryman.providers.local.state import AgentStore

log = logging.getLogger("ferryman.agent")

_MAX_BACKOFF = 30.0


def _backoff(failures: int) -> float:
    return min(0.5 * 2 ** (failures - 1), _MAX_BACKOFF) if failures > 0 else 0.0


class InstanceManager:
    """Owns every instance process of the agent.

    Args:
        store: Where instances and events are persisted.
        logs_dir: Directory of the ``<instance-id>.log`` files.
        interval: Seconds between supervision passes.
        probe_timeout: Seconds a health check may take.
        start_grace: Seconds a new process may fail health checks while ``starting``.
    """

    def __init__(
        self,
        store: AgentStore,
        logs_dir: Path,
        *,
        interval: float = 1.0,
        probe_timeout: float = 1.0,
        start_grace: float = 30.0,
    ) -> None:
        self._store = store
        self._logs_dir = logs_dir
        self._interval = interval
        self._probe_timeout = probe_timeout
        self._start_grace = start_grace
        self._records = {record.id: record for record in store.instances()}  # oldest first
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self.reserved_ports: set[int] = set()
        self.on_change: Callable[[list[InstanceRecord]], None] = lambda records: None

    def _changed(self, records: list[InstanceRecord]) -> None:
        if records:
            self.on_change(records)

    def all(self) -> list[InstanceRecord]:
        """Every instance, stopped ones included, oldest first."""
        return list(self._records.values())

    def running(
        self,
        environment: str,
        region: str,
        zone: str | None = None,
        service: str | None = None,
        version: str | None = None,
    ) -> list[InstanceRecord]:
        """Instances the agent keeps alive in a region, filtered by whichever keys are given."""
        return [
            r
            for r in self.all()
            if r.running
            and r.environment == environment
            and r.region == region
            and zone in (None, r.zone)
            and service in (None, r.service)
            and version in (None, r.version)
        ]

    def healthy(
        self, environment: str, region: str, service: str, version: str
    ) -> list[InstanceRecord]:
        """Instances of a version in a region that last answered their health check."""
        return [
            r
            for r in self.running(environment, region, service=service, version=version)
            if r.state == "healthy" and r.pid is not None
        ]

    def eject(self, instance_id: str) -> None:
        """Take an instance out of rotation until its next good health check."""
        record = self._records.get(instance_id)
        if record is not None and record.running and record.state == "healthy":
            self._set_state(record, "unhealthy")
            self._store.record_event("instance.ejected", record.id, record.pid, record.where)

    def launch(
        self,
        environment: str,
        request: InstanceRequest,
        cwd: str,
        count: int,
        secrets: dict[str, str] | None = None,
    ) -> list[InstanceRecord]:
        """Start ``count`` new instances of a request, each with its own free port.

        ``secrets`` (the values of ``request.secrets``) join the processes' variables.
        """
        launch = Launch(
            command=request.command,
            cwd=cwd,
            env=dict(request.env),
            secrets=dict(secrets or {}),
            secret_refs={name: ref.model_dump() for name, ref in request.secrets.items()},
            health_path=request.health_path,
            health_status=request.health_status,
            artifact_digest=request.artifact_digest,
        )
        started = []
        for _ in range(count):
            instance_id = self._new_id(request)
            record = InstanceRecord(
                id=instance_id,
                region=request.region,
                zone=request.zone,
                service=request.service,
                version=request.version,
                port=processes.free_port(self._ports_in_use()),
                pid=None,
                state="starting",
                desired="running",
                launch=launch,
                created=time.time(),
                environment=environment,
            )
            self._records[instance_id] = record
            self._spawn(record, "instance.started")
            started.append(record)
        return started

    def withdraw(self, records: list[InstanceRecord]) -> None:
        """Stop keeping instances alive (they take no more traffic); :meth:`stop` ends them."""
        for record in records:
            record.desired = "stopped"
            self._store.save_instance(record)
        self._changed(records)

    async def stop(self, records: list[InstanceRecord]) -> None:
        """Stop the processes of withdrawn instances."""
        await asyncio.gather(*(self._stop(record) for record in records))
        for record in records:
            self._store.record_event("instance.stopped", record.id, record.pid, record.where)
            record.pid = None
            self._set_state(record, "stopped")

    async def check(
        self, environment: str, region: str, zone: str, service: str, version: str
    ) -> HealthReport:
        """Probe every instance of a version in a zone now."""
        records = self.running(environment, region, zone, service, version)
        problems = await self._probe_all(records)
        detail = "; ".join(f"{r.id}: {p}" for r, p in zip(records, problems, strict=True) if p)
        if not records:
            detail = f"no running instance of {service} {version} in {region}/{zone}"
        return HealthReport(
            region=region,
            zone=zone,
            service=service,
            version=version,
            healthy=problems.count(None),
            total=len(records),
            detail=detail,
        )

    async def adopt(self) -> None:
        """Take over the instances a previous agent left running, and probe them once.

        Instances whose process is gone are left to the supervisor, which restarts them.
        """
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(force_close=True),
            timeout=aiohttp.ClientTimeout(total=self._probe_timeout),
        )
        adopted = []
        for record in self._records.values():
            if record.running and record.pid and processes.is_instance(record.pid, record.id):
                record.launched = time.monotonic()
                self._store.record_event("instance.adopted", record.id, record.pid, record.where)
                adopted.append(record)
        await self._probe_all(adopted)
        lost = sum(1 for r in self._records.values() if r.running) - len(adopted)
        log.info("adopted %d running instances, %d to restart", len(adopted), lost)

    def supervise(self) -> None:
        """Start the background supervision loop."""
        self._task = asyncio.get_running_loop().create_task(self._supervise())

    async def close(self, stop_instances: bool) -> None:
        """Stop supervising; stop the instances too if asked (they stay desired running)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if stop_instances:
            live = [r for r in self._records.values() if r.running and r.pid]
            await asyncio.gather(*(self._stop(record) for record in live))
            for record in live:
                self._store.record_event(
                    "instance.stopped", record.id, record.pid, f"{record.where} agent exit"
                )
                record.pid = None
                record.state = "unhealthy"
                self._store.save_instance(record)
        if self._session is not None:
            await self._session.close()

    async def _supervise(self) -> None:
        while True:
            try:
                await self._pass()
            except Exception:
                log.exception("supervision pass failed")
            await asyncio.sleep(self._interval)

    async def _pass(self) -> None:
        alive = []
        for record in [r for r in self._records.values() if r.running]:
            if self._alive(record):
                alive.append(record)
            else:
                self._handle_death(record)
        await self._probe_all(alive)

    def _handle_death(self, record: InstanceRecord) -> None:
        if record.pid is not None:
            child = self._children.pop(record.id, None)
            code = "" if child is None else f"exit code {child.returncode}"
            self._store.record_event(
                "instance.exited", record.id, record.pid, f"{record.where} {code}".strip()
            )
            record.pid = None
            self._set_state(record, "unhealthy")
        if time.monotonic() >= record.next_restart:
            processes.kill_all(processes.members(record.id))
            if not processes.port_is_free(record.port):
                record.port = processes.free_port(self._ports_in_use())
            record.failures += 1
            record.next_restart = time.monotonic() + _backoff(record.failures)
            self._spawn(record, "instance.restarted", f"restart {record.failures}")

    def _alive(self, record: InstanceRecord) -> bool:
        if record.pid is None:
            return False
        child = self._children.get(record.id)
        if child is not None:
            return child.poll() is None
        return processes.is_instance(record.pid, record.id)

    def _spawn(self, record: InstanceRecord, event: str, detail: str = "") -> None:
        env = {
            **os.environ,
            **record.launch.env,
            **record.launch.secrets,
            "PORT": str(record.port),
            "FERRYMAN_SERVICE": record.service,
            "FERRYMAN_VERSION": record.version,
            "FERRYMAN_REGION": record.region,
            "FERRYMAN_ZONE": record.zone,
            "FERRYMAN_ENVIRONMENT": record.environment,
            processes.IDENTITY_VAR: record.id,
        }
        log_path = self._logs_dir / f"{record.id}.log"
        child = processes.spawn(record.launch.command, record.launch.cwd, env, log_path)
        self._children[record.id] = child
        record.pid = child.pid
        record.state = "starting"
        record.launched = time.monotonic()
        self._store.save_instance(record)
        port_detail = f"{record.where} port {record.port}"
        self._store.record_event(event, record.id, child.pid, f"{port_detail} {detail}".strip())
        self._changed([record])

    async def _stop(self, record: InstanceRecord) -> None:
        if record.pid is not None:
            child = self._children.pop(record.id, None)
            await processes.stop_group(record.pid, record.id, child)

    async def _probe_all(self, records: list[InstanceRecord]) -> list[str | None]:
        problems = await asyncio.gather(*(self._probe(record) for record in records))
        for record, problem in zip(records, problems, strict=True):
            self._apply(record, problem)
        return list(problems)

    async def _probe(self, record: InstanceRecord) -> str | None:
        assert self._session is not None, "adopt() opens the probe session"
        if record.pid is None:
            return "process not running, restart pending"
        url = f"http://127.0.0.1:{record.port}{record.launch.health_path}"
        expected = record.launch.health_status
        try:
            async with self._session.get(url, allow_redirects=False) as response:
                if response.status == expected:
                    return None
                return f"{record.launch.health_path} answered {response.status}, not {expected}"
        except TimeoutError:
            return f"{record.launch.health_path} did not answer within {self._probe_timeout:g}s"
        except aiohttp.ClientConnectorError:
            return f"nothing listening on port {record.port}"
        except aiohttp.ClientError as error:
            return f"{record.launch.health_path} failed: {error or type(error).__name__}"

    async def fetch(self, record: InstanceRecord, path: str) -> str | None:
        """The body an instance answers ``GET path`` with, or None when it fails or is not 200."""
        assert self._session is not None, "adopt() opens the probe session"
        try:
            async with self._session.get(
                f"http://127.0.0.1:{record.port}{path}", allow_redirects=False
            ) as response:
                return await response.text() if response.status == 200 else None
        except (aiohttp.ClientError, TimeoutError, UnicodeDecodeError):
            return None

    def _apply(self, record: InstanceRecord, problem: str | None) -> None:
        if not record.running or record.pid is None:
            return
        if problem is None:
            record.failures = 0
            self._set_state(record, "healthy")
        elif record.state != "starting" or (time.monotonic() - record.launched > self._start_grace):
            self._set_state(record, "unhealthy")

    def _set_state(self, record: InstanceRecord, state: str) -> None:
        if record.state != state:
            record.state = state
            self._store.save_instance(record)
            self._changed([record])

    def _ports_in_use(self) -> Iterable[int]:
        ports = {r.port for r in self._records.values() if r.running}
        return ports | self.reserved_ports

    def _new_id(self, request: InstanceRequest) -> str:
        while True:
            candidate = "-".join(
                (request.service, request.version, request.zone, secrets.token_hex(3))
            )
            if candidate not in self._records:
                return candidate
