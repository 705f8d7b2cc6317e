"""``ferryman worker``: serve ferryman's task queues against any Temporal cluster.

Without ``--region`` it is a *central* worker: every workflow, and builds. With
``--region R`` (repeatable) it serves only those regions' provider activities,
as a region-local worker on its own machine would. ``--regions-file`` (the dev
stack's) also serves the regions listed there, as releases add them. Run it as
``ferryman worker`` or ``python -m ferryman.temporal.worker``; ``ferryman dev``
starts it as its own process, so killing it never touches the agent or its
instances.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.worker import Worker

from ferryman.temporal.activities.analysis import MetricSources
from ferryman.temporal.activities.deploy import ProviderFactory
from ferryman.temporal.client.connection import Connection, connect
from ferryman.temporal.names import TASK_QUEUE
from ferryman.temporal.worker.regions import RegionWorkers
from ferryman.temporal.worker.workers import central_workers, local_providers

READY_LINE = "ferryman-worker ready"
DEFAULT_AGENT_URL = "http://127.0.0.1:7480"


@dataclass(frozen=True)
class WorkerOptions:
    """What one worker process serves.

    Attributes:
        agent_url: The local platform agent (the ``local`` provider).
        central: Serve workflows and builds.
        regions: Serve these regions' provider activities.
        regions_file: Also serve the regions listed in this file, as it grows.
        build_slots: Build steps run at once.
        build_platforms: Also serve these platforms' build queues.
        task_queue: The central queue every other queue derives from.
        prometheus_url: Prometheus, for analysis templates whose source is ``prometheus``.
    """

    agent_url: str = DEFAULT_AGENT_URL
    central: bool = True
    regions: tuple[str, ...] = ()
    regions_file: Path | None = None
    build_slots: int = 2
    build_platforms: tuple[str, ...] = field(default=())
    task_queue: str = TASK_QUEUE
    prometheus_url: str | None = None


def describe(options: WorkerOptions) -> str:
    """What a worker with these options serves, in one line."""
    parts = []
    if options.central:
        parts.append(f"workflows and builds on {options.task_queue}")
    if options.regions:
        parts.append(f"regions {', '.join(options.regions)}")
    if options.regions_file is not None:
        parts.append(f"the regions listed in {options.regions_file}")
    return "; ".join(parts) or "nothing"


async def serve(
    connection: Connection, options: WorkerOptions, providers: ProviderFactory | None = None
) -> None:
    """Run the workers until SIGTERM or SIGINT.

    Args:
        connection: The cluster.
        options: What to serve.
        providers: The region activities' providers (default: the local agent at
            ``options.agent_url``; ``ferryman.testing.faulty_provider`` wraps it).
    """
    client = await connect(connection, wait_s=30)
    providers = providers or local_providers(options.agent_url)
    workers: list[Worker] = []
    if options.central:
        workers += central_workers(
            client, options.task_queue, options.build_slots, options.build_platforms
        )
    metrics = MetricSources(options.agent_url, options.prometheus_url)
    regions = RegionWorkers(client, providers, options.task_queue, metrics)
    regions.ensure(list(options.regions))
    watcher = (
        asyncio.create_task(regions.watch(options.regions_file))
        if options.regions_file is not None
        else None
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runs = [asyncio.create_task(worker.run()) for worker in workers]
    print(f"{READY_LINE}: {describe(options)}", flush=True)
    await stop.wait()
    if watcher is not None:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    await asyncio.gather(*(worker.shutdown() for worker in workers), regions.shutdown())
    await asyncio.gather(*runs, return_exceptions=True)


def parser() -> argparse.ArgumentParser:
    """The worker's command-line options."""
    parser = argparse.ArgumentParser(prog="ferryman worker", description=__doc__)
    parser.add_argument("--temporal-address", default=None)
    parser.add_argument("--namespace", default=None)
    parser.add_argument(
        "--agent-url", default=os.environ.get("FERRYMAN_AGENT_URL", DEFAULT_AGENT_URL)
    )
    parser.add_argument("--region", action="append", default=[], help="serve this region")
    parser.add_argument("--regions-file", type=Path, default=None)
    parser.add_argument("--central", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--build-slots", type=int, default=2)
    parser.add_argument("--build-platform", action="append", default=[])
    parser.add_argument("--task-queue", default=TASK_QUEUE)
    parser.add_argument(
        "--prometheus-url",
        default=os.environ.get("FERRYMAN_PROMETHEUS_URL") or None,
        help="Prometheus for canary analysis (source: prometheus)",
    )
    return parser


def options_from(args: argparse.Namespace) -> WorkerOptions:
    """Worker options from parsed arguments: central unless only regions are asked for."""
    central = args.central if args.central is not None else not args.region
    return WorkerOptions(
        agent_url=args.agent_url,
        central=central,
        regions=tuple(args.region),
        regions_file=args.regions_file,
        build_slots=args.build_slots,
        build_platforms=tuple(args.build_platform),
        task_queue=args.task_queue,
        prometheus_url=args.prometheus_url,
    )


def main(argv: list[str] | None = None, providers: ProviderFactory | None = None) -> None:
    """Command-line entry point of the worker process (``providers``: see :func:`serve`)."""
    args = parser().parse_args(argv)
    connection = Connection.from_env(args.temporal_address, args.namespace)
    asyncio.run(serve(connection, options_from(args), providers))


if __name__ == "__main__":
    main()
