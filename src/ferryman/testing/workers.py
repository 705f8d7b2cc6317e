"""In-process workers for tests and benchmarks: a private central queue and its regions.

::

    async with serving(client, providers, regions=["eu-1"]) as queue:
        await client.execute_workflow(ReleaseWorkflow.run, plan, id=..., task_queue=queue)
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Sequence

from temporalio.client import Client

from ferryman.temporal.activities.analysis import MetricSources
from ferryman.temporal.activities.deploy import ProviderFactory
from ferryman.temporal.worker.workers import central_workers, region_worker


@contextlib.asynccontextmanager
async def serving(
    client: Client,
    providers: ProviderFactory,
    regions: Sequence[str] = (),
    *,
    central: str | None = None,
    build_slots: int = 2,
    serve_central: bool = True,
    metrics: MetricSources | None = None,
    analysis: Sequence[Callable[..., object]] | None = None,
) -> AsyncIterator[str]:
    """Run a central worker and one worker per region on a private queue; yields its name.

    Args:
        client: Connected Temporal client.
        providers: Platform and environment → provider, for region activities.
        regions: Regions whose queues to serve.
        central: The central queue (default: a fresh ``ferryman-<uuid>``).
        build_slots: Build steps run at once.
        serve_central: Also serve workflows and builds (False: regions only).
        metrics: The metric sources canary analysis reads.
        analysis: Fake analysis activities in place of the real ones.
    """
    queue = central or f"ferryman-{uuid.uuid4()}"
    workers = central_workers(client, queue, build_slots) if serve_central else []
    workers += [
        region_worker(client, providers, region, queue, metrics, analysis) for region in regions
    ]
    async with contextlib.AsyncExitStack() as stack:
        for worker in workers:
            await stack.enter_async_context(worker)
        yield queue
