"""Running real region deploys in tests: artifacts, requests, background traffic."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

from ferryman.plan.models import HealthPlan, ServicePlan
from ferryman.temporal.models.region import RegionDeployRequest, RegionResult
from ferryman.temporal.names import region_deploy_id
from ferryman.temporal.workflows.region import RegionDeployWorkflow
from ferryman.testing.artifacts import store_signed
from ferryman.testing.load import steady_load
from ferryman.testing.regions import one_service_deploy
from ferryman.testing.waiting import eventually
from ferryman.traffic import LoadStats

EXAMPLE_APP = Path(__file__).resolve().parents[2] / "examples" / "hello" / "app"
ZONES = ("a", "b", "c")
# Zone b never becomes healthy when this is the instance command.
BROKEN_IN_ZONE_B = 'if [ "$FERRYMAN_ZONE" = b ]; then exec sleep 600; fi; exec python3 server.py'


def store_example_app() -> str:
    """The hello app's files as a bundle in the artifact store; returns its digest."""
    return store_signed(EXAMPLE_APP, ["server.py", "greeting.txt"], node_id="hello")


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
    async with steady_load(url, rps=rps, host=host) as load:
        await load.reached(1)
        yield load.stats


async def answered_by(seen: LoadStats, version: str) -> None:
    """Wait until the load of a :func:`traffic` block was answered by ``version``."""

    async def answered() -> bool:
        return version in seen.by_version

    await eventually(answered, what=f"the load to be answered by {version}")


async def wait_for_phase(
    handle: WorkflowHandle[RegionDeployWorkflow, RegionResult], phase: str, timeout_s: float = 120
) -> None:
    """Poll the region deploy's ``progress`` until the region or its service reaches ``phase``."""

    async def reached() -> bool:
        try:
            progress = await handle.query(RegionDeployWorkflow.progress)
        except RPCError:  # not started yet
            return False
        service = progress.services[0].phase if progress.services else None
        return phase in (progress.phase, service)

    await eventually(reached, what=f"region deploy phase {phase!r}", within=timeout_s)
