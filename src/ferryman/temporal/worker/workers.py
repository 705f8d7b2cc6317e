"""The workers ferryman runs: central (workflows and builds) and one per region.

A central worker serves ``<central>`` (every workflow) and ``<central>-build``
(build activities; its slots are the build throttle). A region worker serves
``<central>-region-<region>``: the provider activities of that region, so on a
real cluster it runs where the region's platform is reachable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from temporalio.client import Client
from temporalio.worker import Worker

from ferryman.providers.base import Provider
from ferryman.temporal.activities.analysis import AnalysisActivities, MetricSources
from ferryman.temporal.activities.build import BUILD_ACTIVITIES
from ferryman.temporal.activities.deploy import DeployActivities, ProviderFactory
from ferryman.temporal.activities.lock import LockActivities
from ferryman.temporal.activities.notify import NotifyActivities
from ferryman.temporal.activities.webhook import WEBHOOK_ACTIVITIES
from ferryman.temporal.names import TASK_QUEUE, build_task_queue, region_task_queue
from ferryman.temporal.workflows.build import BuildWorkflow
from ferryman.temporal.workflows.lock import ReleaseLockWorkflow
from ferryman.temporal.workflows.region import RegionDeployWorkflow
from ferryman.temporal.workflows.release import ReleaseWorkflow

WORKFLOWS = (ReleaseWorkflow, BuildWorkflow, RegionDeployWorkflow, ReleaseLockWorkflow)


def local_providers(agent_url: str) -> ProviderFactory:
    """A provider factory knowing the ``local`` platform at ``agent_url``, one per environment."""
    from ferryman.providers.local import LocalProvider

    cache: dict[str, Provider] = {}

    def factory(platform: str, environment: str) -> Provider:
        if platform != "local":
            raise KeyError(platform)
        if environment not in cache:
            cache[environment] = LocalProvider(agent_url, environment=environment)
        return cache[environment]

    return factory


def central_workers(
    client: Client,
    central: str = TASK_QUEUE,
    build_slots: int = 2,
    build_platforms: tuple[str, ...] = (),
) -> list[Worker]:
    """The workflow worker (with the gate notifications) and the build worker(s) of a queue.

    Args:
        client: Connected Temporal client.
        central: The central queue (releases are started on it).
        build_slots: Build steps run at once by each build worker.
        build_platforms: Also serve these platforms' own build queues
            (``<central>-build-<os>-<arch>``).
    """
    workers = [
        Worker(
            client,
            task_queue=central,
            workflows=list(WORKFLOWS),
            activities=[
                *LockActivities(client).all(),
                *NotifyActivities().all(),
                *WEBHOOK_ACTIVITIES,
            ],
        )
    ]
    for runs_on in ("", *build_platforms):
        workers.append(
            Worker(
                client,
                task_queue=build_task_queue(central, runs_on),
                activities=list(BUILD_ACTIVITIES),
                max_concurrent_activities=build_slots,
            )
        )
    return workers


def region_worker(
    client: Client,
    providers: ProviderFactory,
    region: str,
    central: str = TASK_QUEUE,
    metrics: MetricSources | None = None,
    analysis: Sequence[Callable[..., object]] | None = None,
) -> Worker:
    """The worker of one region's provider and metric activities.

    Args:
        client: Connected Temporal client.
        providers: Platform and environment → provider.
        region: The region whose queue to serve.
        central: The central queue the region queue derives from.
        metrics: The metric sources canary analysis reads (none: analysis fails clearly).
        analysis: Other analysis activities in place of the real ones (tests).
    """
    judges = (
        analysis if analysis is not None else AnalysisActivities(metrics or MetricSources()).all()
    )
    return Worker(
        client,
        task_queue=region_task_queue(region, central),
        activities=[*DeployActivities(providers).all(), *judges, *WEBHOOK_ACTIVITIES],
    )
