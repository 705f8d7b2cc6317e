"""Running real region deploys in tests: artifacts, requests, background traffic."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

from ferryman import paths
from ferryman.build.artifacts import ArtifactStore
from ferryman.plan.models import HealthPlan, ServicePlan
from ferryman.temporal.models.region import RegionDeployRequest, RegionResult
from ferryman.temporal.names import region_deploy_id
from ferryman.temporal.workflows.region import RegionDeployWorkflow
from ferryman.testing.regions import one_service_deploy
from ferryman.traffic import LoadConfig, LoadStats, run_load

EXAMPLE_APP = Path(__file__).resolve().parents[2] / "examples" / "hello" / "app"
ZONES = ("a", "b", "c")
# Zone b never becomes healthy when this is the instance command.
BROKEN_IN_ZONE_B = 'if [ "$FERRYMAN_ZONE" = b ]; then exec sleep 600; fi; exec python3 server.py'


def store_example_app() -> str:
    """The hello app's files as a bundle in the artifact store; returns its digest."""
    store = ArtifactStore(paths.artifacts_dir())
    return store.collect(EXAMPLE_APP, ["server.py", "greeting.txt"]).digest


@dataclass
class RegionDeployer:
    """Starts region deploys of the hello service to a 3-zone region on a private queue."""

    client: Client
    queue: str
    digest: str
    region: str = "eu-1"

    def request(
        self, version: str, command: str = "exec python3 server.py", **options: object
    ) -> RegionDeployRequest:
        service = ServicePlan(
            name="web",
            artifact_node="hello",
            command=command,
            replicas=2,
            health=HealthPlan(timeout_s=20, interval_s=0.1),
        )
        defaults: dict[str, object] = {"scale_down_delay_s": 0, "progress_deadline_s": 20}
        return one_service_deploy(
            service,
            version,
            self.digest,
            platform="local",
            region=self.region,
            zones=ZONES,
            options={**defaults, **options},
        )

    async def start(
        self, version: str, command: str = "exec python3 server.py", **options: object
    ) -> WorkflowHandle[RegionDeployWorkflow, RegionResult]:
        request = self.request(version, command, **options)
        return await self.client.start_workflow(
            RegionDeployWorkflow.run,
            request,
            id=region_deploy_id(request.release_id, self.region),
            task_queue=self.queue,
        )

    async def deploy(self, version: str, **options: object) -> RegionResult:
        return await (await self.start(version, **options)).result()


@asynccontextmanager
async def traffic(url: str, rps: float = 80, host: str | None = None) -> AsyncIterator[LoadStats]:
    """Steady sticky-user load on ``url`` for as long as the block runs; yields live stats."""
    stop = asyncio.Event()
    totals = LoadStats()

    async def send() -> None:
        while not stop.is_set():
            config = LoadConfig(targets=(url,), rps=rps, duration=0.5, users=200, host=host)
            stats = await run_load(config)
            for version, per in stats.by_version.items():
                into = totals.by_version.setdefault(version, type(per)())
                into.requests += per.requests
                into.errors += per.errors
            totals.failures += stats.failures

    task = asyncio.create_task(send())
    try:
        yield totals
    finally:
        stop.set()
        await task


async def wait_for_phase(
    handle: WorkflowHandle[RegionDeployWorkflow, RegionResult], phase: str, timeout_s: float = 60
) -> None:
    """Poll the region deploy's ``progress`` until the region or its service reaches ``phase``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        try:
            progress = await handle.query(RegionDeployWorkflow.progress)
        except RPCError:  # not started yet
            await asyncio.sleep(0.1)
            continue
        if progress.phase == phase or (progress.services and progress.services[0].phase == phase):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"region deploy never reached phase {phase!r}")
