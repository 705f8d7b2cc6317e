"""Global rollback: a bad version fails its health check in the third wave's region.

Real dev server, real local platform (agent, one router process per region,
instance processes), one worker process serving every queue, the hello example
built from git. Three regions × three zones, one region per wave; steady
sticky-user traffic through every region's router. ``v1`` is released, then
``v2``, which never becomes healthy in ``ap-south`` (its command checks
``FERRYMAN_REGION``): the release restores eu-west, then us-east.

Figures, per run:

- ``global_rollback_ms``: from the failure decision — the moment ap-south's
  barrier activity failed, from its region deploy's history — to the last
  request answered by v2 in any region, on the client's request timeline (when
  each request was sent, over loopback; the router keeps counters, not a
  per-request log, so the client's timeline stands in for it);
- ``bad_requests_after_decision``: requests sent after that moment and answered by v2;
- ``regions_touched``: regions where the release started v2 (agent's event log);
- ``regions_restored``: touched regions whose router answers only v1 to real
  requests once the release has ended (not the workflow's opinion);
- ``failed_requests``: 5xx answers and transport failures, outside ap-south and in it.

It runs once with ``keep-previous: until-done`` (v1 stays warm: a restore is a
route swap) and once with ``none`` (v1 retired at the switch: a restore starts
it again from its artifact). The last line is JSON: the until-done figures plus
``global_rollback_ms_cold``.

Usage: ``python bench/saga.py [--quick] [--rounds N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError

from ferryman.demo import prepare_example
from ferryman.devstack.processes import stop_group
from ferryman.plan.compile import compile_plan
from ferryman.plan.models import KeepPrevious, RegionPlan, ReleasePlan, WavePlan
from ferryman.providers.local import LocalProvider
from ferryman.spec.load import load_spec
from ferryman.temporal.converter import DATA_CONVERTER
from ferryman.temporal.names import region_deploy_id
from ferryman.temporal.workflows.release import ReleaseWorkflow
from ferryman.testing import AgentProcess, TemporalDevServer
from ferryman.testing.processes import start_worker

REGIONS = ("us-east", "eu-west", "ap-south")
BAD_REGION = REGIONS[-1]
ZONES = ("a", "b", "c")
USERS = 500
SETTLE_S = 1.0
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "hello"


@dataclass
class Timeline:
    """Every request sent to one router: when (wall clock), which version answered, failed."""

    sent: list[float] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)
    failed: list[bool] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)
    failed_at: list[float] = field(default_factory=list)

    def answered(self, version: str, after: float = 0.0) -> list[float]:
        return [
            t for t, v in zip(self.sent, self.versions, strict=True) if v == version and t > after
        ]

    def failures(self, start: float, end: float) -> int:
        return sum(
            1 for t, bad in zip(self.sent, self.failed, strict=True) if start <= t <= end and bad
        )


async def load(url: str, timeline: Timeline, stop: asyncio.Event, rps: float, seed: int) -> None:
    """``rps`` requests per second from sticky users until ``stop``; each answer recorded."""
    users = random.Random(seed)
    interval = 1.0 / rps
    # A slow answer on a busy machine is an answer: only errors and 30 s silences fail.
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=0)
    jar = aiohttp.DummyCookieJar()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, cookie_jar=jar) as http:

        async def one(sent: float) -> None:
            user = f"user-{users.randrange(USERS)}"
            headers = {"X-User-Id": user, "Cookie": f"ferryman_user={user}"}
            try:
                async with http.get(url, headers=headers) as answer:
                    await answer.read()
                    version = answer.headers.get("X-Ferryman-Version", "-")
                    bad = answer.status >= 500
                    reason = f"HTTP {answer.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                version, bad, reason = "-", True, type(exc).__name__
            timeline.sent.append(sent)
            timeline.versions.append(version)
            timeline.failed.append(bad)
            if bad:
                timeline.reasons[reason] += 1
                timeline.failed_at.append(sent)

        tasks: set[asyncio.Task[None]] = set()
        next_at = time.monotonic()
        while not stop.is_set():
            now = time.monotonic()
            if now < next_at:
                await asyncio.sleep(next_at - now)
            task = asyncio.create_task(one(time.time()))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            next_at += interval
        await asyncio.gather(*tasks)


def world_plan(
    spec: Path, environment: str, version: str, keep: KeepPrevious, bad_health_s: float | None
) -> ReleasePlan:
    """The hello example in ``environment``: three regions × three zones, one per wave.

    With ``bad_health_s``, the version never becomes healthy in ``BAD_REGION``
    and its barrier gives up after that many seconds.
    """
    plan = compile_plan(load_spec(spec), spec, "dev", version)
    service = plan.deploy.services[0]
    if bad_health_s is not None:
        command = (
            f'if [ "$FERRYMAN_REGION" = {BAD_REGION} ]; then exec sleep 600; fi; '
            f"exec {service.command}"
        )
        health = service.health.model_copy(update={"timeout_s": bad_health_s})
        service = service.model_copy(update={"command": command, "health": health})
    deploy = plan.deploy.model_copy(
        update={
            "environment": environment,
            "regions": tuple(RegionPlan(name=r, zones=ZONES) for r in REGIONS),
            "waves": tuple(WavePlan(regions=(r,)) for r in REGIONS),
            "keep_previous": keep,
            "services": (service,),
        }
    )
    return plan.model_copy(update={"environment": environment, "deploy": deploy})


async def barrier_failed_at(client: Client, release: str) -> float:
    """When the bad region's barrier failed: its first failed ``await_healthy`` activity."""
    handle = client.get_workflow_handle(region_deploy_id(release, BAD_REGION, "switch"))
    kinds: dict[int, str] = {}
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            kinds[event.event_id] = (
                event.activity_task_scheduled_event_attributes.activity_type.name
            )
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
            scheduled = event.activity_task_failed_event_attributes.scheduled_event_id
            if kinds.get(scheduled) == "ferryman.await_healthy":
                return float(event.event_time.ToMicroseconds()) / 1e6
    raise RuntimeError(f"no failed barrier in {BAD_REGION}'s history: bad measurement")


async def answers_only(url: str, version: str, requests: int = 60) -> bool:
    """Whether ``requests`` real requests from different users all get ``version``."""
    async with httpx.AsyncClient(timeout=5) as http:
        for n in range(requests):
            reply = await http.get(url, headers={"X-User-Id": f"check-{n}"})
            if reply.status_code != 200 or reply.headers.get("X-Ferryman-Version") != version:
                return False
    return True


@dataclass
class Run:
    """One bad release under traffic, measured."""

    keep: str
    decision_to_last_bad_ms: float
    bad_after_decision: int
    bad_by_region: dict[str, int]
    touched: list[str]
    restored: list[str]
    failed_outside: int
    failed_bad_region: int
    restores_ms: dict[str, float]
    requests: int
    failures: str = ""

    def line(self) -> str:
        bad = ", ".join(f"{r} {n}" for r, n in self.bad_by_region.items())
        swaps = ", ".join(f"{r} +{ms:.0f} ms" for r, ms in self.restores_ms.items())
        return (
            f"  keep-previous {self.keep}: decision → last v2 answer "
            f"{self.decision_to_last_bad_ms:.0f} ms; v2 answers after the decision "
            f"{self.bad_after_decision}; v2 answers per region: {bad}; routes put back: {swaps}; "
            f"touched {len(self.touched)}, restored {len(self.restored)}; failed requests "
            f"{self.failed_outside} outside {BAD_REGION}, {self.failed_bad_region} in it; "
            f"{self.requests} requests" + (f" (failures: {self.failures})" if self.failures else "")
        )


@dataclass
class Bench:
    client: Client
    agent: AgentProcess
    queue: str
    spec: Path
    rps: float
    bad_health_s: float

    async def release(self, plan: ReleasePlan, fails: bool) -> str:
        """Run a release to its end; returns its id. ``fails``: it must fail (else it must not)."""
        release = f"release/{plan.system}/{plan.environment}/{uuid.uuid4()}"
        try:
            await self.client.execute_workflow(
                ReleaseWorkflow.run, plan, id=release, task_queue=self.queue
            )
        except WorkflowFailureError as exc:
            if not fails:
                raise
            if f"restored {', '.join(REGIONS[-2::-1])}" not in str(exc.cause):
                raise RuntimeError(
                    f"{release} failed otherwise than expected: {exc.cause}"
                ) from exc
            return release
        if fails:
            raise RuntimeError(f"{release} did not fail: bad measurement")
        return release

    async def run(self, keep: KeepPrevious, rounds: int) -> list[Run]:
        environment = f"saga-{keep}"
        provider = LocalProvider(self.agent.url, environment=environment)
        good = world_plan(self.spec, environment, "v1", keep, None)
        await self.release(good, fails=False)
        routers = await provider.routers()
        assert set(routers) == set(REGIONS), f"routers: {routers}"
        runs = []
        for index in range(rounds):
            runs.append(await self.one(provider, routers, keep, index))
        return runs

    async def one(
        self, provider: LocalProvider, routers: Mapping[str, str], keep: KeepPrevious, index: int
    ) -> Run:
        bad = world_plan(self.spec, provider.environment, "v2", keep, self.bad_health_s)
        events = await provider.events()
        before = events[-1].seq if events else 0
        timelines = {region: Timeline() for region in REGIONS}
        stop = asyncio.Event()
        loaders = [
            asyncio.create_task(load(routers[r], timelines[r], stop, self.rps, seed=index * 10 + i))
            for i, r in enumerate(REGIONS)
        ]
        started = time.time()
        await asyncio.sleep(SETTLE_S)
        release = await self.release(bad, fails=True)
        await asyncio.sleep(SETTLE_S)
        stop.set()
        await asyncio.gather(*loaders)
        ended = time.time()

        decided = await barrier_failed_at(self.client, release)
        last_bad = max((t for tl in timelines.values() for t in tl.answered("v2")), default=decided)
        restored = [r for r in REGIONS if await answers_only(routers[r], "v1")]
        touched = await self.touched(provider, before)
        return Run(
            keep=keep,
            decision_to_last_bad_ms=max(0.0, (last_bad - decided) * 1000),
            bad_after_decision=sum(len(tl.answered("v2", decided)) for tl in timelines.values()),
            bad_by_region={r: len(tl.answered("v2")) for r, tl in timelines.items()},
            touched=touched,
            restored=[r for r in restored if r in touched],
            failed_outside=sum(
                tl.failures(started, ended) for r, tl in timelines.items() if r != BAD_REGION
            ),
            failed_bad_region=timelines[BAD_REGION].failures(started, ended),
            restores_ms=await self.restores(provider, before, decided),
            requests=sum(len(tl.sent) for tl in timelines.values()),
            failures=describe_failures(timelines, decided),
        )

    async def touched(self, provider: LocalProvider, since: int) -> list[str]:
        """Regions where the release started v2, from the agent's event log."""
        instances = {i.id: i for i in await provider.instances()}
        regions = {
            instances[e.instance].region
            for e in await provider.events("instance.started", since)
            if e.instance in instances and instances[e.instance].version == "v2"
        }
        return [r for r in REGIONS if r in regions]

    async def restores(
        self, provider: LocalProvider, since: int, decided: float
    ) -> dict[str, float]:
        """Region → ms from the decision to its route table put back (its last ``routes.set``)."""
        back: dict[str, float] = {}
        for event in await provider.events("routes.set", since):
            environment, _, region = event.detail.split()[0].partition("/")
            if environment == provider.environment and event.time > decided:
                back[region] = (event.time - decided) * 1000
        return back


async def measure(quick: bool, rounds: int, workdir: Path) -> tuple[list[Run], list[Run]]:
    """Start the stack, then measure ``rounds`` bad releases warm (until-done) and cold (none)."""
    os.environ["FERRYMAN_HOME"] = str(workdir / "home")
    spec = prepare_example(EXAMPLE, workdir / "hello")
    server = TemporalDevServer(log_dir=workdir).start()
    agent = AgentProcess(state_dir=workdir / "agent").start()
    queue = f"ferryman-bench-{uuid.uuid4()}"
    serve = ("--task-queue", queue, "--central", *(a for r in REGIONS for a in ("--region", r)))
    worker = start_worker(server.address, agent.url, workdir / "worker.log", *serve)
    try:
        client = await Client.connect(server.address, data_converter=DATA_CONVERTER)
        bench = Bench(
            client, agent, queue, spec, rps=40 if quick else 60, bad_health_s=5 if quick else 10
        )
        warm = await bench.run("until-done", rounds)
        cold = await bench.run("none", rounds)
    finally:
        stop_group(worker.pid)
        agent.stop()
        server.stop()
    return warm, cold


def describe_failures(timelines: Mapping[str, Timeline], decided: float) -> str:
    """Per region: how requests failed, and when, relative to the decision (for reading runs)."""
    parts = []
    for region, timeline in timelines.items():
        if timeline.failed_at:
            first = (min(timeline.failed_at) - decided) * 1000
            last = (max(timeline.failed_at) - decided) * 1000
            kinds = ", ".join(f"{k} ×{n}" for k, n in timeline.reasons.most_common())
            parts.append(f"{region}: {kinds}, sent {first:+.0f}..{last:+.0f} ms from the decision")
    return "; ".join(parts)


def median_run(runs: list[Run]) -> Run:
    """The run whose rollback time is the median (the lower one of an even count)."""
    ordered = sorted(runs, key=lambda r: r.decision_to_last_bad_ms)
    return ordered[(len(ordered) - 1) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one round per mode, lighter load")
    parser.add_argument("--rounds", type=int, default=None, help="bad releases per mode")
    args = parser.parse_args()
    rounds = args.rounds or (1 if args.quick else 3)
    with tempfile.TemporaryDirectory() as tmp:
        warm, cold = asyncio.run(measure(args.quick, rounds, Path(tmp)))
    for run in warm + cold:
        print(run.line())
    headline, cold_headline = median_run(warm), median_run(cold)
    figures = {
        "global_rollback_ms": round(headline.decision_to_last_bad_ms, 1),
        "bad_requests_after_decision": headline.bad_after_decision,
        "regions_touched": len(headline.touched),
        "regions_restored": len(headline.restored),
        "failed_requests": headline.failed_outside + headline.failed_bad_region,
        "failed_requests_outside_bad_region": headline.failed_outside,
        "failed_requests_bad_region": headline.failed_bad_region,
        "bad_requests_by_region": headline.bad_by_region,
        "global_rollback_ms_cold": round(cold_headline.decision_to_last_bad_ms, 1),
        "global_rollback_ms_max": round(max(r.decision_to_last_bad_ms for r in warm), 1),
        "global_rollback_ms_cold_max": round(max(r.decision_to_last_bad_ms for r in cold), 1),
        "failed_requests_all_runs": sum(
            r.failed_outside + r.failed_bad_region for r in warm + cold
        ),
        "regions_restored_all_runs": all(set(r.restored) == set(r.touched) for r in warm + cold),
        "rounds": rounds,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
