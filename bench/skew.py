"""Version-skew window and rollback time: ferryman's synchronized switch vs a naive update.

A region of 3 zones × 2 replicas of the hello service runs on the real local
platform (real agent, real router, real instance processes) under continuous
traffic. In the same run, alternating, the region goes from one version to
the next

- through ferryman's ``RegionDeployWorkflow`` (every zone prepared, one barrier,
  one atomic route swap), and
- through a naive per-zone sequential update (start the new version in a zone,
  wait until healthy, move that zone's share of traffic, stop the old version
  there, next zone) driven straight through the provider API.

The *skew window* is the time during which requests to the region were
answered by both versions: from the first request answered by the new version
to the last one answered by the old, on the timeline of when each request was
sent (loopback, so within a fraction of a millisecond of when the router saw
it). Rollback time runs from the ``rollback`` decision to the last request
answered by the rolled-back version.

Usage: ``python bench/skew.py [--quick]``; the last line is JSON with
``skew_ms_synced``, ``skew_ms_naive``, ``rollback_ms``, ``errors_during_switch`` (ferryman's
switches and rollbacks) and ``errors_naive``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from temporalio.client import Client, WorkflowFailureError

from ferryman import paths
from ferryman.build.artifacts import ArtifactStore
from ferryman.plan.models import HealthPlan, ServicePlan
from ferryman.platform.models import InstanceRequest, RouteTable
from ferryman.providers.local import LocalProvider
from ferryman.temporal.converter import DATA_CONVERTER
from ferryman.temporal.models.region import RegionDeployRequest
from ferryman.temporal.names import region_deploy_id
from ferryman.temporal.worker.workers import local_providers
from ferryman.temporal.workflows.region import RegionDeployWorkflow
from ferryman.testing import AgentProcess, TemporalDevServer
from ferryman.testing.artifacts import store_signed
from ferryman.testing.regions import one_service_deploy
from ferryman.testing.workers import serving

REGION, SERVICE, ZONES, REPLICAS = "bench-1", "web", ("a", "b", "c"), 2
COMMAND = "exec python3 server.py"
RPS = 300
SETTLE_S = 0.5
EXAMPLE_APP = Path(__file__).resolve().parents[1] / "examples" / "hello" / "app"


@dataclass
class Timeline:
    """Every request sent: when, which version answered, and whether it failed."""

    sent: list[float] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)
    failed: list[bool] = field(default_factory=list)

    def errors_between(self, start: float, end: float) -> int:
        return sum(
            1 for t, bad in zip(self.sent, self.failed, strict=True) if start <= t <= end and bad
        )

    def skew_ms(self, old: str, new: str, start: float, end: float) -> float:
        """How long both versions answered, within [start, end]."""
        window = [
            (t, v) for t, v in zip(self.sent, self.versions, strict=True) if start <= t <= end
        ]
        first_new = min((t for t, v in window if v == new), default=None)
        last_old = max((t for t, v in window if v == old), default=None)
        if first_new is None or last_old is None:
            raise RuntimeError(
                f"no answers from both {old} and {new} in the window: bad measurement"
            )
        return max(0.0, (last_old - first_new) * 1000)

    def last_answer_ms(self, version: str, after: float) -> float:
        """Milliseconds from ``after`` to the last request ``version`` answered."""
        answered = [t for t, v in zip(self.sent, self.versions, strict=True) if v == version]
        if not answered:
            raise RuntimeError(f"{version} never answered: bad measurement")
        return max(0.0, (max(answered) - after) * 1000)


async def load(url: str, timeline: Timeline, stop: asyncio.Event) -> None:
    """Send RPS requests per second until ``stop``, recording each answer."""
    interval = 1.0 / RPS
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:

        async def one(sent: float) -> None:
            try:
                async with session.get(url, headers={"X-User-Id": str(uuid.uuid4())}) as answer:
                    await answer.read()
                    version = answer.headers.get("X-Ferryman-Version", "-")
                    bad = answer.status >= 500
            except (aiohttp.ClientError, TimeoutError):
                version, bad = "-", True
            timeline.sent.append(sent)
            timeline.versions.append(version)
            timeline.failed.append(bad)

        tasks: set[asyncio.Task[None]] = set()
        next_at = time.perf_counter()
        while not stop.is_set():
            now = time.perf_counter()
            if now < next_at:
                await asyncio.sleep(next_at - now)
            task = asyncio.create_task(one(time.perf_counter()))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            next_at += interval
        await asyncio.gather(*tasks)


@dataclass
class Bench:
    client: Client
    provider: LocalProvider
    queue: str
    digest: str

    def request(self, version: str, **options: object) -> RegionDeployRequest:
        service = ServicePlan(
            name=SERVICE, artifact_node="hello", command=COMMAND, replicas=REPLICAS,
            health=HealthPlan(timeout_s=30, interval_s=0.05),
        )  # fmt: skip
        return one_service_deploy(
            service, version, self.digest, platform="local", region=REGION, zones=ZONES,
            options=options,
        )  # fmt: skip

    async def synced(self, version: str, **options: object) -> None:
        request = self.request(version, **options)
        await self.client.execute_workflow(
            RegionDeployWorkflow.run, request,
            id=region_deploy_id(request.release_id, REGION), task_queue=self.queue,
        )  # fmt: skip

    async def naive(self, old: str, new: str, artifact_dir: str) -> None:
        key = f"naive/{uuid.uuid4()}"
        for index, zone in enumerate(ZONES, start=1):
            await self.provider.prepare(
                f"{key}/{zone}",
                InstanceRequest(
                    region=REGION, zone=zone, service=SERVICE, version=new,
                    artifact_dir=artifact_dir, command=COMMAND, replicas=REPLICAS,
                ),
            )  # fmt: skip
            while not (await self.provider.health(REGION, zone, SERVICE, new)).ready:
                await asyncio.sleep(0.05)
            share = round(100 * index / len(ZONES))
            weights = {new: 100} if share == 100 else {old: 100 - share, new: share}
            await self.provider.set_traffic(
                f"{key}/routes/{zone}", REGION, RouteTable(service=SERVICE, weights=weights)
            )
            await self.provider.retire(f"{key}/retire/{zone}", REGION, zone, SERVICE, old)


class Labels:
    """Fresh version labels: v1, v2, …"""

    def __init__(self) -> None:
        self.n = 0

    def next(self) -> str:
        self.n += 1
        return f"v{self.n}"


@dataclass
class Round:
    """What one round measured; failed requests are counted per phase."""

    synced_ms: float = 0.0
    naive_ms: float = 0.0
    rollback_ms: float = 0.0
    synced_errors: int = 0
    naive_errors: int = 0
    rollback_errors: int = 0


async def one_round(
    bench: Bench, timeline: Timeline, live: str, labels: Labels, artifact_dir: str
) -> tuple[str, Round]:
    """Synced switch, naive switch, rollback; returns the live version and the figures."""
    figures = Round()
    new = labels.next()
    start = time.perf_counter()
    await bench.synced(new, scale_down_delay_s=0)
    end = time.perf_counter() + SETTLE_S
    await asyncio.sleep(SETTLE_S)
    figures.synced_ms = timeline.skew_ms(live, new, start, end)
    figures.synced_errors = timeline.errors_between(start, end)
    live, new = new, labels.next()

    start = time.perf_counter()
    await bench.naive(live, new, artifact_dir)
    end = time.perf_counter() + SETTLE_S
    await asyncio.sleep(SETTLE_S)
    figures.naive_ms = timeline.skew_ms(live, new, start, end)
    figures.naive_errors = timeline.errors_between(start, end)
    live, bad = new, labels.next()

    request = bench.request(bad, scale_down_delay_s=600)
    handle = await bench.client.start_workflow(
        RegionDeployWorkflow.run,
        request,
        id=region_deploy_id(request.release_id, REGION),
        task_queue=bench.queue,
    )
    while (await handle.query(RegionDeployWorkflow.progress)).services[0].phase != "keep-warm":
        await asyncio.sleep(0.02)
    await asyncio.sleep(SETTLE_S)
    decided = time.perf_counter()
    await handle.cancel()
    with contextlib.suppress(WorkflowFailureError):
        await handle.result()
    await asyncio.sleep(SETTLE_S)
    figures.rollback_ms = timeline.last_answer_ms(bad, decided)
    figures.rollback_errors = timeline.errors_between(decided, time.perf_counter())
    return live, figures


async def measure(rounds: int, workdir: Path) -> dict[str, float]:
    """Start a dev server and an agent, then run ``rounds`` rounds under traffic."""
    os.environ["FERRYMAN_HOME"] = str(workdir / "home")
    server = TemporalDevServer(log_dir=workdir).start()
    agent = AgentProcess(state_dir=workdir / "agent").start()
    try:
        client = await Client.connect(server.address, data_converter=DATA_CONVERTER)
        provider = LocalProvider(agent.url, environment="test")
        async with serving(client, local_providers(agent.url), [REGION]) as queue:
            store = ArtifactStore(paths.artifacts_dir())
            digest = store_signed(EXAMPLE_APP, ["server.py", "greeting.txt"], node_id="hello")
            artifact_dir = str(store.materialize(digest, workdir / "unpacked"))
            bench = Bench(client, provider, queue, digest)
            labels = Labels()
            live = labels.next()
            await bench.synced(live, scale_down_delay_s=0)
            url = (await provider.current_state(REGION, SERVICE)).router_url
            assert url, "the region has no router"
            timeline, stop = Timeline(), asyncio.Event()
            loader = asyncio.create_task(load(url, timeline, stop))
            results: list[Round] = []
            for _ in range(rounds):
                live, figures = await one_round(bench, timeline, live, labels, artifact_dir)
                results.append(figures)
            stop.set()
            await loader
    finally:
        agent.stop()
        server.stop()
    synced = [r.synced_ms for r in results]
    rollback = [r.rollback_ms for r in results]
    return {
        "skew_ms_synced": round(statistics.median(synced), 2),
        "skew_ms_synced_max": round(max(synced), 2),
        "skew_ms_naive": round(statistics.median(r.naive_ms for r in results), 2),
        "rollback_ms": round(statistics.median(rollback), 2),
        "rollback_ms_max": round(max(rollback), 2),
        # ferryman's switches and rollbacks; the naive update's failures are its own.
        "errors_during_switch": sum(r.synced_errors + r.rollback_errors for r in results),
        "errors_naive": sum(r.naive_errors for r in results),
        "rounds": rounds,
        "requests": len(timeline.sent),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one round instead of five")
    args = parser.parse_args()
    rounds = 1 if args.quick else 5
    with tempfile.TemporaryDirectory() as tmp:
        figures = asyncio.run(measure(rounds, Path(tmp)))
    print(f"skew window, synchronized switch: {figures['skew_ms_synced']} ms (median)")
    print(f"skew window, naive per-zone:      {figures['skew_ms_naive']} ms (median)")
    print(f"rollback to last bad answer:      {figures['rollback_ms']} ms (median)")
    print(f"failed requests, ferryman switch and rollback: {figures['errors_during_switch']}")
    print(f"failed requests, naive per-zone update:        {figures['errors_naive']}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
