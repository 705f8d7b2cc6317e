"""Workers for ``ferryman-region-<region>`` queues, started on demand in this process.

On a real cluster, region-local workers serve each region's queue. The embedded
stack has one worker process, so a release first asks it (through the
``ferryman.ensure_region_workers`` activity) to serve the queues of the regions
it is about to touch. The regions are remembered in ``FERRYMAN_HOME`` so that a
restarted worker serves them again at once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

from ferryman.providers.base import Provider
from ferryman.temporal.activities.deploy import DeployActivities
from ferryman.temporal.deploy_models import EnsureRegionsInput
from ferryman.temporal.names import REGION_QUEUE_PREFIX, region_task_queue


class RegionWorkers:
    """Starts and stops one worker per region queue.

    Args:
        client: Connected Temporal client.
        providers: Platform name → provider, for the region activities.
        prefix: Queue name prefix (tests use a private one).
        state_file: Where the served regions are remembered; None remembers nothing.
    """

    def __init__(
        self,
        client: Client,
        providers: Callable[[str], Provider],
        prefix: str = REGION_QUEUE_PREFIX,
        state_file: Path | None = None,
    ) -> None:
        self._client = client
        self._activities = DeployActivities(providers)
        self._prefix = prefix
        self._state_file = state_file
        self._workers: dict[str, tuple[Worker, asyncio.Task[None]]] = {}
        self._lock = asyncio.Lock()

    @property
    def regions(self) -> list[str]:
        """Regions whose queues this process serves."""
        return sorted(self._workers)

    def remembered(self) -> list[str]:
        """Regions saved by an earlier run."""
        if self._state_file is None or not self._state_file.exists():
            return []
        try:
            return [str(region) for region in json.loads(self._state_file.read_text())]
        except ValueError:
            return []

    async def ensure(self, regions: list[str]) -> list[str]:
        """Serve the queues of ``regions`` (idempotent); returns their queue names."""
        async with self._lock:
            for region in regions:
                if region not in self._workers:
                    worker = Worker(
                        self._client,
                        task_queue=region_task_queue(region, self._prefix),
                        activities=self._activities.all(),
                    )
                    self._workers[region] = (worker, asyncio.create_task(worker.run()))
            if self._state_file is not None:
                self._state_file.parent.mkdir(parents=True, exist_ok=True)
                self._state_file.write_text(json.dumps(self.regions))
        return [region_task_queue(region, self._prefix) for region in regions]

    @activity.defn(name="ferryman.ensure_region_workers")
    async def ensure_activity(self, data: EnsureRegionsInput) -> list[str]:
        """Activity form of ``ensure``."""
        return await self.ensure(list(data.regions))

    async def shutdown(self) -> None:
        """Stop every region worker."""
        workers = list(self._workers.values())
        self._workers.clear()
        await asyncio.gather(*(worker.shutdown() for worker, _ in workers))
        await asyncio.gather(*(task for _, task in workers), return_exceptions=True)

    async def __aenter__(self) -> RegionWorkers:
        await self.ensure(self.remembered())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.shutdown()
