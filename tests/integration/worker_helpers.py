"""Workers for integration tests: an in-process central worker, region workers as processes.

A region worker is ``ferryman worker --region R`` in its own process on a private
task queue, so a test can SIGKILL it in the middle of a provider call and start
another, exactly as a crashed machine would be replaced.
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen

from temporalio.client import Client

from ferryman.devstack.processes import stop_group
from ferryman.temporal.worker.workers import local_providers
from ferryman.testing.processes import start_worker
from ferryman.testing.workers import serving


@dataclass
class RegionWorkers:
    """The region worker processes of one private queue."""

    address: str
    agent_url: str
    logs: Path
    queue: str
    processes: dict[str, Popen[bytes]] = field(default_factory=dict)
    started: int = 0

    async def start(self, region: str) -> Popen[bytes]:
        """Start a worker serving ``region`` (returns once it is ready)."""
        self.started += 1
        log = self.logs / f"worker-{region}-{self.started}.log"
        extra = ("--task-queue", self.queue, "--region", region)
        process = await asyncio.to_thread(start_worker, self.address, self.agent_url, log, *extra)
        self.processes[region] = process
        return process

    async def kill(self, region: str) -> None:
        """SIGKILL the worker of ``region``, as a crash would."""
        process = self.processes.pop(region)
        os.killpg(process.pid, signal.SIGKILL)
        await asyncio.to_thread(process.wait)

    def stop_all(self) -> None:
        """Stop every worker still running."""
        for process in self.processes.values():
            stop_group(process.pid)
        self.processes.clear()


@asynccontextmanager
async def private_workers(
    client: Client, address: str, agent_url: str, logs: Path, regions: Sequence[str]
) -> AsyncIterator[RegionWorkers]:
    """A central worker in this process and one worker process per region, on a fresh queue."""
    queue = f"ferryman-{uuid.uuid4()}"
    async with serving(client, local_providers(agent_url), (), central=queue):
        workers = RegionWorkers(address, agent_url, logs, queue)
        try:
            for region in regions:
                await workers.start(region)
            yield workers
        finally:
            workers.stop_all()
