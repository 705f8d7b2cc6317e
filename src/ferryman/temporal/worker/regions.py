"""Region workers started while a process runs: for the dev stack and for tests.

On a real cluster an operator runs ``ferryman worker --region R`` where region
R's platform is. On one laptop the dev stack's worker serves every region a
release needs: ``ferryman release`` adds the plan's regions to a file
(``regions.json`` in the state home) and this process starts a worker for each
new one. Workflows never start workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from types import TracebackType

from temporalio.client import Client
from temporalio.worker import Worker

from ferryman.temporal.activities.analysis import MetricSources
from ferryman.temporal.activities.deploy import ProviderFactory
from ferryman.temporal.names import TASK_QUEUE
from ferryman.temporal.worker.workers import region_worker


def read_regions(path: Path) -> list[str]:
    """The regions listed in ``path`` (none when it is missing or unreadable)."""
    try:
        return sorted({str(region) for region in json.loads(path.read_text())})
    except (OSError, ValueError, TypeError):
        return []


def add_regions(path: Path, regions: list[str]) -> None:
    """Add ``regions`` to the file a dev-stack worker watches (atomically)."""
    merged = sorted(set(read_regions(path)) | set(regions))
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(merged))
    partial.replace(path)


class RegionWorkers:
    """Runs one worker per region queue, adding regions on demand.

    Args:
        client: Connected Temporal client.
        providers: Platform and environment → provider, for the region activities.
        central: The central queue the region queues derive from.
        metrics: The metric sources canary analysis reads.
    """

    def __init__(
        self,
        client: Client,
        providers: ProviderFactory,
        central: str = TASK_QUEUE,
        metrics: MetricSources | None = None,
    ):
        self._client = client
        self._providers = providers
        self._central = central
        self._metrics = metrics
        self._workers: dict[str, tuple[Worker, asyncio.Task[None]]] = {}

    @property
    def regions(self) -> list[str]:
        """Regions whose queues this process serves."""
        return sorted(self._workers)

    def ensure(self, regions: list[str]) -> None:
        """Serve the queues of ``regions`` (idempotent)."""
        for region in regions:
            if region not in self._workers:
                worker = region_worker(
                    self._client, self._providers, region, self._central, self._metrics
                )
                self._workers[region] = (worker, asyncio.create_task(worker.run()))

    async def watch(self, path: Path, interval: float = 0.25) -> None:
        """Serve every region listed in ``path``, now and as it grows, until cancelled."""
        while True:
            self.ensure(read_regions(path))
            await asyncio.sleep(interval)

    async def shutdown(self) -> None:
        """Stop every region worker."""
        workers = list(self._workers.values())
        self._workers.clear()
        await asyncio.gather(*(worker.shutdown() for worker, _ in workers))
        for _, task in workers:
            with contextlib.suppress(Exception):
                await task

    async def __aenter__(self) -> RegionWorkers:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.shutdown()
