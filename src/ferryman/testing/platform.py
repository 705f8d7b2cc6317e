"""The local platform for tests and benchmarks: an agent process, its client, and cleanup.

::

    async with LocalPlatform(tmp_path) as platform:
        await platform.deploy("r1", "a", "v1", replicas=2)
        await platform.route("r1", RouteTable(service="web", weights={"v1": 100}))
        url = await platform.router_url("r1")

Every process started under a platform (the agent and the instances it spawns)
carries ``FERRYMAN_TEST_RUN=<id>`` in its environment, and is SIGKILLed when
the platform closes, whatever happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
import uuid
from pathlib import Path
from types import TracebackType

from ferryman.platform.models import HealthReport, Instance, InstanceRequest, RouteTable
from ferryman.providers.local import LocalProvider
from ferryman.testing import instances
from ferryman.testing.processes import AgentProcess

MARKER = "FERRYMAN_TEST_RUN"


def kill_marked(run_id: str) -> int:
    """SIGKILL the process group of every process whose environment carries the run's marker."""
    marker = f"{MARKER}={run_id}".encode()
    killed = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            if marker in environ:
                pgid = os.getpgid(int(entry.name))
                if pgid != os.getpgrp():
                    os.killpg(pgid, signal.SIGKILL)
                    killed += 1
        except (OSError, ProcessLookupError):
            continue
    return killed


class LocalPlatform:
    """A real agent on free ports with the fixture service as its artifact.

    Args:
        root: Directory for the agent's state, logs and the artifact.
        stop_instances_on_exit: Passed to the agent (False keeps instances across restarts
            by SIGTERM too).
        environment: The environment ``provider`` (and every helper) acts in.
        traffic_backend: What routes traffic: ``builtin`` or ``haproxy``.
    """

    def __init__(
        self,
        root: Path,
        stop_instances_on_exit: bool = True,
        environment: str = "default",
        traffic_backend: str = "builtin",
    ) -> None:
        self.root = root
        self.run_id = uuid.uuid4().hex
        self.agent = AgentProcess(
            state_dir=root / "agent",
            env={MARKER: self.run_id},
            stop_instances_on_exit=stop_instances_on_exit,
            traffic_backend=traffic_backend,
        )
        self.environment = environment
        self.provider = LocalProvider(self.agent.url, environment=environment, timeout=30)
        self.artifact = instances.write_artifact(root / "artifact")
        self._keys = 0

    async def __aenter__(self) -> LocalPlatform:
        await asyncio.to_thread(self.agent.start)
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self.agent.stop)
        kill_marked(self.run_id)

    def provider_for(self, environment: str) -> LocalProvider:
        """A client of the same agent acting in another environment."""
        return LocalProvider(self.agent.url, environment=environment, timeout=30)

    def key(self, what: str) -> str:
        """A fresh idempotency key."""
        self._keys += 1
        return f"{self.run_id}/{what}/{self._keys}"

    def request(
        self,
        region: str,
        zone: str,
        version: str,
        *,
        service: str = "web",
        replicas: int = 1,
        env: dict[str, str] | None = None,
    ) -> InstanceRequest:
        """An instance request for the fixture service."""
        return InstanceRequest(
            region=region,
            zone=zone,
            service=service,
            version=version,
            artifact_dir=str(self.artifact),
            command=instances.command(),
            env=env or {},
            replicas=replicas,
        )

    async def deploy(
        self,
        region: str,
        zone: str,
        version: str,
        *,
        service: str = "web",
        replicas: int = 1,
        env: dict[str, str] | None = None,
        within: float = 60,
    ) -> list[Instance]:
        """Start instances of a version in a zone and wait until all are healthy."""
        request = self.request(region, zone, version, service=service, replicas=replicas, env=env)
        started = await self.provider.prepare(self.key("prepare"), request)
        await self.wait_healthy(region, zone, service, version, within)
        return started

    async def wait_healthy(
        self, region: str, zone: str, service: str, version: str, within: float = 60
    ) -> HealthReport:
        """Poll health until every instance answers; raises ``TimeoutError`` after ``within``."""
        deadline = time.monotonic() + within
        while True:
            report = await self.provider.health(region, zone, service, version)
            if report.ready:
                return report
            if time.monotonic() > deadline:
                raise TimeoutError(f"{service} {version} in {region}/{zone}: {report.detail}")
            await asyncio.sleep(0.1)

    async def route(self, region: str, table: RouteTable) -> int:
        """Install a route table; returns the generation."""
        return await self.provider.set_traffic(self.key("routes"), region, table)

    async def router_url(self, region: str) -> str:
        """The URL of a region's router."""
        return (await self.provider.routers())[region]

    async def restart_agent(self) -> None:
        """Kill the agent with SIGKILL and start it again on the same state and ports."""
        await asyncio.to_thread(self.agent.kill)
        await asyncio.to_thread(self.agent.start)
