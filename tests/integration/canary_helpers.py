"""Canary region deploys of the shop's checkout service on the real local platform."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

from ferryman.analysis.sequential import SequentialConfig
from ferryman.analysis.templates import AnalysisQuery, MetricPlan, SourceKind, TemplatePlan
from ferryman.deploy.strategies import CanaryOptions, StrategyOptions
from ferryman.plan.models import HealthPlan, ServicePlan
from ferryman.temporal.models.region import RegionDeployRequest, RegionResult, ServiceRollout
from ferryman.temporal.names import region_deploy_id
from ferryman.temporal.workflows.region import RegionDeployWorkflow
from ferryman.testing.artifacts import store_signed
from ferryman.traffic import LoadConfig, LoadStats, run_load

SHOP = Path(__file__).resolve().parents[2] / "examples" / "shop" / "repos"
ZONES = ("a", "b")
RegionHandle = WorkflowHandle[RegionDeployWorkflow, RegionResult]


def store_checkout_app(workdir: Path) -> str:
    """The shop's checkout service (app, shoplib, behaviour) as one bundle; returns its digest."""
    app = workdir / "checkout-app"
    (app / "config").mkdir(parents=True, exist_ok=True)
    shutil.copy(SHOP / "checkout" / "app.py", app / "app.py")
    shutil.copy(SHOP / "lib" / "shoplib.py", app / "shoplib.py")
    (app / "config" / "behaviour.json").write_text(json.dumps({"error_rate": 0.0}))
    return store_signed(app, ["app.py", "shoplib.py", "config/behaviour.json"], node_id="checkout")


def error_template(
    source: SourceKind, margin: float = 0.1, interval_s: float = 2, count: int = 60
) -> TemplatePlan:
    """A sequential error-rate template (α = 0.01) looking every ``interval_s`` seconds."""
    judge = SequentialConfig(alpha=0.01, margin=margin, count=count, interval_s=interval_s)
    metric = MetricPlan(
        name="errors",
        source=source,
        query=AnalysisQuery(kind="error_rate"),
        judge=judge,
        interval_s=interval_s,
        count=count,
    )
    return TemplatePlan(name="error-rate", metrics=(metric,), no_data="fail")


@dataclass
class ShopDeployer:
    """Starts region deploys of the checkout service to a 2-zone region on a private queue."""

    client: Client
    queue: str
    digest: str
    region: str = "eu-1"

    def request(
        self, version: str, strategy: StrategyOptions, error_rate: float
    ) -> RegionDeployRequest:
        service = ServicePlan(
            name="web",
            artifact_node="checkout",
            command="exec python3 app.py",
            env={"SHOP_ERROR_RATE": str(error_rate)},
            replicas=1,
            health=HealthPlan(timeout_s=20, interval_s=0.1),
            strategy=strategy,
        )
        return RegionDeployRequest(
            release_id=f"release/test/{self.region}/{uuid.uuid4()}",
            platform="local",
            environment="test",
            region=self.region,
            zones=ZONES,
            services=(
                ServiceRollout(service=service, version=version, artifact_digest=self.digest),
            ),
        )

    async def start(
        self, version: str, strategy: StrategyOptions, error_rate: float = 0.0
    ) -> RegionHandle:
        request = self.request(version, strategy, error_rate)
        return await self.client.start_workflow(
            RegionDeployWorkflow.run,
            request,
            id=region_deploy_id(request.release_id, self.region),
            task_queue=self.queue,
        )

    async def stable(self, version: str = "v1", error_rate: float = 0.0) -> RegionResult:
        """The first deploy: nothing to compare with, so the version goes live at once."""
        return await (await self.start(version, CanaryOptions(), error_rate)).result()


@dataclass
class Seen:
    """The live totals of a background load."""

    stats: LoadStats = field(default_factory=LoadStats)

    def requests(self, version: str) -> int:
        per = self.stats.by_version.get(version)
        return per.requests if per else 0

    def errors(self, version: str) -> int:
        per = self.stats.by_version.get(version)
        return per.errors if per else 0


@contextlib.asynccontextmanager
async def load(
    url: str, rps: float = 100, path: str = "/", users: int = 2000
) -> AsyncIterator[Seen]:
    """Steady load from many sticky users for as long as the block runs; yields live totals."""
    seen = Seen()

    def tick(stats: LoadStats) -> None:
        seen.stats = stats

    config = LoadConfig(
        targets=(url,),
        rps=rps,
        duration=3600,
        users=users,
        path=path,
        seed=random.randrange(1 << 30),
    )
    task = asyncio.create_task(run_load(config, tick, tick_every=0.2))
    try:
        yield seen
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def wait_until_phase(handle: RegionHandle, phase: str, timeout_s: float = 120) -> None:
    """Poll the deploy's progress until the region is in ``phase``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        with contextlib.suppress(RPCError):
            if (await handle.query(RegionDeployWorkflow.progress)).phase == phase:
                return
        await asyncio.sleep(0.1)
    raise AssertionError(f"region deploy never reached phase {phase!r}")
