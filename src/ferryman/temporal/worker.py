"""The ferryman worker: workflows and provider calls on ``ferryman``, builds on ``ferryman-build``.

Run as ``python -m ferryman.temporal.worker``; ``ferryman dev`` starts it as its
own process so that killing it never touches the agent or its instances.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from collections.abc import Callable

from temporalio.client import Client
from temporalio.worker import Worker

from ferryman import paths
from ferryman.providers.base import Provider
from ferryman.temporal.activities.build import BUILD_ACTIVITIES
from ferryman.temporal.activities.deploy import DeployActivities
from ferryman.temporal.client import Connection, connect
from ferryman.temporal.names import BUILD_TASK_QUEUE, TASK_QUEUE
from ferryman.temporal.region_workers import RegionWorkers
from ferryman.temporal.workflows.build import BuildWorkflow
from ferryman.temporal.workflows.region import RegionDeployWorkflow
from ferryman.temporal.workflows.release import ReleaseWorkflow

WORKFLOWS = (ReleaseWorkflow, BuildWorkflow, RegionDeployWorkflow)
READY_LINE = "ferryman-worker ready"


def local_providers(agent_url: str) -> Callable[[str], Provider]:
    """A provider factory knowing the ``local`` platform at ``agent_url``."""
    from ferryman.providers.local import LocalProvider

    local = LocalProvider(agent_url)

    def factory(platform: str) -> Provider:
        if platform != "local":
            raise KeyError(platform)
        return local

    return factory


def build_workers(
    client: Client,
    providers: Callable[[str], Provider],
    build_slots: int = 2,
    task_queue: str = TASK_QUEUE,
    build_task_queue: str = BUILD_TASK_QUEUE,
    regions: RegionWorkers | None = None,
) -> list[Worker]:
    """The two workers ferryman runs: orchestration and builds.

    Args:
        client: Connected Temporal client.
        providers: Platform name → provider.
        build_slots: Build steps run at once on this machine (the build throttle).
        task_queue: Queue for workflows and provider activities.
        build_task_queue: Queue for build activities.
        regions: Serves ``ferryman-region-<r>`` queues on demand; None leaves them to
            region-local workers.
    """
    deploy = DeployActivities(providers)
    activities = [*deploy.all(), *([regions.ensure_activity] if regions else [])]
    return [
        Worker(client, task_queue=task_queue, workflows=list(WORKFLOWS), activities=activities),
        Worker(
            client,
            task_queue=build_task_queue,
            activities=list(BUILD_ACTIVITIES),
            max_concurrent_activities=build_slots,
        ),
    ]


async def serve(connection: Connection, agent_url: str, build_slots: int) -> None:
    """Run the workers until SIGTERM or SIGINT."""
    client = await connect(connection, wait_s=30)
    providers = local_providers(agent_url)
    regions = RegionWorkers(client, providers, state_file=paths.home() / "regions.json")
    await regions.__aenter__()
    workers = build_workers(client, providers, build_slots, regions=regions)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runs = [asyncio.create_task(worker.run()) for worker in workers]
    print(READY_LINE, flush=True)
    await stop.wait()
    await asyncio.gather(*(worker.shutdown() for worker in workers), regions.shutdown())
    await asyncio.gather(*runs, return_exceptions=True)


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point of the worker process."""
    parser = argparse.ArgumentParser(prog="ferryman-worker")
    parser.add_argument("--temporal-address", default=None)
    parser.add_argument("--namespace", default=None)
    parser.add_argument(
        "--agent-url", default=os.environ.get("FERRYMAN_AGENT_URL", "http://127.0.0.1:7480")
    )
    parser.add_argument("--build-slots", type=int, default=2)
    args = parser.parse_args(argv)
    connection = Connection.from_env(args.temporal_address, args.namespace)
    asyncio.run(serve(connection, args.agent_url, args.build_slots))


if __name__ == "__main__":
    main()
