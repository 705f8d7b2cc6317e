"""Scale: N concurrent canary releases of 3 regions × 3 zones on one dev server and its workers.

Real Temporal dev server, real worker processes (``ferryman worker``'s own
``serve`` loop, in a process of their own, serving the central queue, the
build queue and the three region queues), the full release workflow: lock,
build (a cache hit after the warm-up release), then one wave per region, each
a region deploy child workflow that runs a canary in three zones — fresh
baseline, 20 % → analysis → 50 % → a 0.5 s pause → all users, then the old
version retired — and a 0.5 s bake after each wave.

Provider: :class:`ScaleProvider`, inside the worker processes: a platform
whose instances are healthy as soon as they are asked for, its state (versions
per zone, launches, route table, generation) in one small JSON file per
environment and region under ``flock`` — two workers share the region queues,
so a zone's ``prepare`` and its health check may run in different processes.
Every zone runs a stable ``v0`` before, so every release is a real canary
with a fresh baseline, and the region deploy's own checks (the zones serve
the new version after the switch) hold. Canary analysis runs ferryman's real analysis activity
and threshold judge on a constant metric source (error rate 0). The local
platform would start 2 instance processes per zone per release (1,800 for
N = 100) on the same two cores: that measures the platform, not the engine.

Figures (the same for one and for two worker processes):

- ``releases_per_min``: N / (last release completed − first release started) × 60;
- step latency: for every workflow of every release (the release, its
  build, its region deploys, the environment's lock) and every task in their
  histories, the time from ``*TaskScheduled`` to ``*TaskStarted`` of activity
  tasks and workflow tasks alike — how long a step that was ready to run
  waited for a worker (``step_p50_ms``, ``step_p99_ms``); also per kind and
  the *turnaround*: from an event that wakes a workflow (activity or child
  completed, timer fired, signal) to the end of the workflow task that reacted;
- ``worker_rss_mb``: the worker process's peak resident set (``VmHWM``; with
  its children, sampled every 0.5 s — it spawns none once the build is cached);
- ``events_per_release``: history events of the release and every workflow it
  started or used (all runs of a workflow that continued as new).

Usage: ``python bench/scale.py [--quick] [--releases N] [--workers 1|2|both]``.
The last line is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle

from ferryman.analysis.templates import AnalysisQuery, MetricPlan, TemplatePlan
from ferryman.analysis.threshold import ThresholdConfig
from ferryman.deploy.strategies import CanaryOptions
from ferryman.deploy.strategies.canary import AnalysisStep, PauseStep, SetWeight
from ferryman.devstack.processes import spawn, stop_group, wait_until
from ferryman.metrics.base import BadQuery, MetricQuery, Sample
from ferryman.plan.compile import compile_plan
from ferryman.plan.models import ReleasePlan, WavePlan
from ferryman.platform.models import (
    HealthReport,
    Instance,
    InstanceRequest,
    Launch,
    RouteTable,
    ServiceState,
)
from ferryman.spec.models import Spec
from ferryman.temporal.converter import DATA_CONVERTER
from ferryman.temporal.names import lock_id
from ferryman.temporal.workflows.release import ReleaseWorkflow
from ferryman.testing import TemporalDevServer
from ferryman.testing.fake_provider import healthy_instances, launch_of

REGIONS = ("us-east", "eu-west", "ap-south")
ZONES = ("a", "b", "c")
STABLE = "v0"
SYSTEM = "scale"
E = EventType
WAKERS = {
    E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
    E.EVENT_TYPE_ACTIVITY_TASK_FAILED,
    E.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
    E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED,
    E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED,
    E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED,
    E.EVENT_TYPE_TIMER_FIRED,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
}


# ---------------------------------------------------------------------------
# The worker side: a stateless provider and a constant metric source.


STATE_DIR = "SCALE_PROVIDER_STATE"


class ScaleProvider:
    """A platform whose instances are healthy as soon as they are asked for.

    Its state — versions per zone, launches, route table, generation — is one
    small JSON file per environment and region under ``$SCALE_PROVIDER_STATE``,
    read and written under ``flock``, so two worker processes see the same
    platform whichever runs a call. Before a release every zone runs ``v0``,
    which takes all of the traffic.
    """

    def __init__(self, environment: str) -> None:
        self.root = Path(os.environ[STATE_DIR]) / environment
        self.root.mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def state(self, region: str, write: bool = True) -> Iterator[dict[str, Any]]:
        path = self.root / f"{region}.json"
        with open(path, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.seek(0)
            raw = handle.read()
            state: dict[str, Any] = json.loads(raw) if raw else {
                "instances": {zone: {STABLE: 1} for zone in ZONES},
                "launches": {STABLE: Launch(command="serve").model_dump()},
                "routes": RouteTable(service="web", weights={STABLE: 100}).model_dump(),
                "generation": 1,
                "keys": {},
            }  # fmt: skip
            yield state
            if write:
                handle.seek(0)
                handle.truncate()
                handle.write(json.dumps(state))

    async def prepare(
        self, key: str, request: InstanceRequest, secrets: Mapping[str, str] | None = None
    ) -> list[Instance]:
        """``request.replicas`` healthy instances (the spec names no secrets)."""
        with self.state(request.region) as state:
            state["instances"].setdefault(request.zone, {})[request.version] = request.replicas
            state["launches"][request.version] = launch_of(request).model_dump()
        return healthy_instances(request, request.replicas)

    async def health(self, region: str, zone: str, service: str, version: str) -> HealthReport:
        """Every instance of the version in the zone, healthy."""
        with self.state(region, write=False) as state:
            total = int(state["instances"].get(zone, {}).get(version, 0))
        return HealthReport(
            region=region, zone=zone, service=service, version=version, healthy=total, total=total
        )

    async def set_traffic(self, key: str, region: str, routes: RouteTable) -> int:
        """Swap the route table (once per key); returns the new generation."""
        with self.state(region) as state:
            if key not in state["keys"]:
                state["generation"] += 1
                state["routes"] = routes.model_dump()
                state["keys"][key] = state["generation"]
            return int(state["keys"][key])

    async def current_state(self, region: str, service: str) -> ServiceState:
        """Versions per zone, their launches and the route table."""
        with self.state(region, write=False) as state:
            by_zone = {
                zone: sorted(v for v, n in versions.items() if n)
                for zone, versions in state["instances"].items()
            }
            running = {v for versions in by_zone.values() for v in versions}
            return ServiceState(
                region=region,
                service=service,
                versions_by_zone={z: v for z, v in by_zone.items() if v},
                routes=RouteTable.model_validate(state["routes"]) if state["routes"] else None,
                generation=state["generation"],
                router_url=f"http://router.{region}.invalid",
                launches={
                    v: Launch.model_validate(launch)
                    for v, launch in state["launches"].items()
                    if v in running
                },
            )

    async def retire(self, key: str, region: str, zone: str, service: str, version: str) -> int:
        """Forget the version's instances in the zone."""
        with self.state(region) as state:
            return int(state["instances"].get(zone, {}).pop(version, 0))


class ConstantSource:
    """A metric source that always says: no errors, 50 ms, 100 requests."""

    async def query(self, query: MetricQuery | str, window: float) -> list[Sample]:
        if isinstance(query, str):
            raise BadQuery("the scale benchmark's source takes no query strings")
        labels = {label: query.matchers.get(label, "") for label in query.by}
        value = {"requests": 100.0, "request_rate": 100.0 / window, "latency": 0.05}
        return [Sample(labels=labels, value=value.get(query.kind, 0.0))]


def serve_worker(argv: list[str]) -> None:
    """``ferryman worker`` with :class:`ScaleProvider` and :class:`ConstantSource`."""
    from ferryman.temporal.activities.analysis import MetricSources
    from ferryman.temporal.worker import main as worker_main

    class ConstantSources(MetricSources):
        def get(self, kind: object) -> ConstantSource:  # type: ignore[override]
            return ConstantSource()

    worker_main.MetricSources = ConstantSources  # type: ignore[attr-defined]
    providers: dict[str, ScaleProvider] = {}

    def factory(platform: str, environment: str) -> ScaleProvider:
        if environment not in providers:
            providers[environment] = ScaleProvider(environment)
        return providers[environment]

    worker_main.main(argv, providers=factory)


# ---------------------------------------------------------------------------
# The plan.


def make_repo(root: Path) -> None:
    repo = root / "app"
    repo.mkdir(parents=True)
    (repo / "main.txt").write_text("hello\n")
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@bench.invalid"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=repo, check=True)
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "one"], cwd=repo, check=True)


TEMPLATE = TemplatePlan(
    name="errors",
    metrics=(
        MetricPlan(
            name="rate",
            source="local",
            query=AnalysisQuery(kind="error_rate"),
            judge=ThresholdConfig(success_condition="result < 0.01", count=1, interval_s=1),
            interval_s=1,
            count=1,
        ),
    ),
)
CANARY = CanaryOptions(
    steps=(
        SetWeight(weight=20),
        AnalysisStep(templates=(TEMPLATE,)),
        SetWeight(weight=50),
        PauseStep(seconds=0.5),
    ),
    scale_down_delay_s=0,
)


def base_plan(root: Path) -> ReleasePlan:
    """The hello repo as one service, 3 regions × 3 zones, one wave each, canary, short bakes."""
    spec = Spec.model_validate(
        {
            "system": SYSTEM,
            "repos": {
                "app": {
                    "source": "./app",
                    "build": {
                        "steps": [
                            {"name": "test", "run": "true"},
                            {"name": "package", "run": "mkdir -p dist && cp main.txt dist/"},
                        ]
                    },
                    "outputs": ["dist/**"],
                }
            },
            "services": {
                "web": {
                    "artifact": "app",
                    "run": "serve",
                    "replicas": 1,
                    "health": {"timeout-seconds": 30, "interval-seconds": 0.1},
                }
            },
            "environments": {"dev": {"regions": {r: {"zones": list(ZONES)} for r in REGIONS}}},
        }
    )
    plan = compile_plan(spec, root / "ferryman.yaml", "dev", "v1")
    service = plan.deploy.services[0].model_copy(update={"strategy": CANARY})
    waves = tuple(WavePlan(regions=(r,), bake_s=0.5) for r in REGIONS)
    deploy = plan.deploy.model_copy(update={"services": (service,), "waves": waves})
    return plan.model_copy(update={"deploy": deploy})


def for_environment(plan: ReleasePlan, environment: str) -> ReleasePlan:
    """The plan in its own environment (each release takes its own environment's lock)."""
    deploy = plan.deploy.model_copy(update={"environment": environment})
    return plan.model_copy(update={"environment": environment, "deploy": deploy})


# ---------------------------------------------------------------------------
# Processes: start, watch memory and CPU.


def proc_status(pid: int, key: str) -> int:
    """A ``kB`` field of ``/proc/<pid>/status`` (0 if the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid``."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = Path(f"/proc/{parent}/task").iterdir()
            children = [
                int(c) for t in tasks for c in (t / "children").read_text().split() if c.strip()
            ]
        except OSError:
            children = []
        found += children
        todo += children
    return found


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its waited-for children."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass
class Worker:
    process: Popen[bytes]
    peak_tree_kb: int = 0

    def sample(self) -> None:
        tree = [self.process.pid, *descendants(self.process.pid)]
        self.peak_tree_kb = max(self.peak_tree_kb, sum(proc_status(p, "VmRSS") for p in tree))

    def peak_mb(self) -> float:
        return max(self.peak_tree_kb, proc_status(self.process.pid, "VmHWM")) / 1024


def start_workers(address: str, queue: str, count: int, workdir: Path) -> list[Worker]:
    """``count`` worker processes serving the same queues; returns once each is ready."""
    from ferryman.temporal.worker.main import READY_LINE

    argv = [
        sys.executable, str(Path(__file__).resolve()), "--serve-worker",
        "--temporal-address", address, "--task-queue", queue, "--central",
        "--agent-url", "http://127.0.0.1:9", *(a for r in REGIONS for a in ("--region", r)),
    ]  # fmt: skip
    workers = []
    for n in range(count):
        log = workdir / f"worker-{queue}-{n}.log"
        process = spawn(argv, log)
        workers.append(Worker(process))

        def ready(log: Path = log) -> bool:
            return log.exists() and READY_LINE in log.read_text()

        wait_until(ready, 60, "worker", process, log)
    return workers


# ---------------------------------------------------------------------------
# Histories.


def ms(later: HistoryEvent, earlier: HistoryEvent) -> float:
    return (later.event_time.ToMicroseconds() - earlier.event_time.ToMicroseconds()) / 1000


@dataclass
class Tree:
    """What the histories of one release's workflows say."""

    events: int = 0
    events_by_type: Counter[str] = field(default_factory=Counter)
    activities: Counter[str] = field(default_factory=Counter)
    activity_wait_ms: list[float] = field(default_factory=list)
    wait_by_activity: dict[str, list[float]] = field(default_factory=dict)
    retried: int = 0
    workflow_task_wait_ms: list[float] = field(default_factory=list)
    turnaround_ms: list[float] = field(default_factory=list)


async def read_tree(client: Client, release: str, run_id: str | None, queue: str, env: str) -> Tree:
    """Read the release's history, its children's (recursively) and its lock's, every run."""
    tree = Tree()
    todo: list[tuple[str, str | None]] = [(release, run_id), (lock_id(SYSTEM, env, queue), None)]
    seen: set[tuple[str, str | None]] = set()
    while todo:
        workflow_id, run = todo.pop()
        if (workflow_id, run) in seen:
            continue
        seen.add((workflow_id, run))
        handle = client.get_workflow_handle(workflow_id, run_id=run)
        events = [event async for event in handle.fetch_history_events()]
        started = events[0].workflow_execution_started_event_attributes if events else None
        kind = started.workflow_type.name if started else "?"
        tree.events += len(events)
        tree.events_by_type[kind] += len(events)
        scheduled: dict[int, HistoryEvent] = {}
        names: dict[int, str] = {}
        woken: HistoryEvent | None = None
        for event in events:
            t = event.event_type
            if t in (E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED):
                scheduled[event.event_id] = event
                if t == E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                    name = event.activity_task_scheduled_event_attributes.activity_type.name
                    names[event.event_id] = name
                    tree.activities[name] += 1
            elif t == E.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                attrs = event.activity_task_started_event_attributes
                if attrs.scheduled_event_id in scheduled:
                    wait = ms(event, scheduled[attrs.scheduled_event_id])
                    tree.activity_wait_ms.append(wait)
                    name = names[attrs.scheduled_event_id].removeprefix("ferryman.")
                    tree.wait_by_activity.setdefault(name, []).append(wait)
                    tree.retried += attrs.attempt > 1
            elif t == E.EVENT_TYPE_WORKFLOW_TASK_STARTED:
                attrs_w = event.workflow_task_started_event_attributes
                if attrs_w.scheduled_event_id in scheduled:
                    wait = ms(event, scheduled[attrs_w.scheduled_event_id])
                    tree.workflow_task_wait_ms.append(wait)
            elif t == E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED and woken is not None:
                tree.turnaround_ms.append(ms(event, woken))
                woken = None
            elif t == E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED:
                child = event.child_workflow_execution_started_event_attributes.workflow_execution
                todo.append((child.workflow_id, child.run_id))
            elif t == E.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
                new_run = event.workflow_execution_continued_as_new_event_attributes
                todo.append((workflow_id, new_run.new_execution_run_id))
            if t in WAKERS and woken is None:
                woken = event
    return tree


# ---------------------------------------------------------------------------
# One measured run.


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


@dataclass
class Phase:
    workers: int
    releases: int
    wall_s: float
    failed: list[str]
    trees: list[Tree]
    worker_rss_mb: list[float]
    cpu: dict[str, float]
    completed: int

    @property
    def rpm(self) -> float:
        return self.completed / self.wall_s * 60 if self.wall_s > 0 else 0.0

    def waits(self) -> list[float]:
        return [w for t in self.trees for w in t.activity_wait_ms + t.workflow_task_wait_ms]

    def all_of(self, attr: str) -> list[float]:
        return [w for t in self.trees for w in getattr(t, attr)]

    def events(self) -> float:
        return statistics.mean(t.events for t in self.trees) if self.trees else float("nan")


async def run_phase(
    plan: ReleasePlan, releases: int, worker_count: int, workdir: Path, timeout_s: float
) -> Phase:
    """A fresh dev server and ``worker_count`` workers; one warm-up release, then N at once."""
    server = TemporalDevServer(log_dir=workdir).start()
    queue = f"scale-{uuid.uuid4().hex[:8]}"
    workers = start_workers(server.address, queue, worker_count, workdir)
    stop = asyncio.Event()

    async def sampler() -> None:
        while not stop.is_set():
            for worker in workers:
                worker.sample()
            await asyncio.sleep(0.5)

    sampling = asyncio.create_task(sampler())
    try:
        client = await Client.connect(server.address, data_converter=DATA_CONVERTER)
        tag = uuid.uuid4().hex[:6]
        warm = for_environment(plan, f"warm-{tag}")
        await client.execute_workflow(
            ReleaseWorkflow.run, warm, id=f"release/{SYSTEM}/warm/{tag}", task_queue=queue
        )
        envs = [f"scale-{tag}-{i}" for i in range(releases)]
        ids = [f"release/{SYSTEM}/{env}/{tag}" for env in envs]
        pids = {"server": server.process.pid if server.process else 0, "bench": os.getpid()}
        pids.update({f"worker-{n}": w.process.pid for n, w in enumerate(workers)})
        cpu_before = {name: cpu_s(pid) for name, pid in pids.items()}
        started = time.monotonic()
        handles: list[WorkflowHandle[ReleaseWorkflow, object]] = list(
            await asyncio.gather(
                *(
                    client.start_workflow(
                        ReleaseWorkflow.run,
                        for_environment(plan, env),
                        id=release,
                        task_queue=queue,
                    )
                    for env, release in zip(envs, ids, strict=True)
                )
            )
        )
        failed: list[str] = []
        finished: set[str] = set()
        last = started

        async def finish(handle: WorkflowHandle[ReleaseWorkflow, object]) -> None:
            nonlocal last
            try:
                await handle.result()
            except WorkflowFailureError as error:
                failed.append(f"{handle.id}: {error.cause}")
            finished.add(handle.id)
            last = time.monotonic()

        _, pending = await asyncio.wait(
            [asyncio.create_task(finish(h)) for h in handles], timeout=timeout_s
        )
        wall = (time.monotonic() if pending else last) - started
        cpu = {name: cpu_s(pid) - cpu_before[name] for name, pid in pids.items()}
        for task in pending:
            task.cancel()
        failed += [
            f"{h.id}: not done after {timeout_s:.0f} s" for h in handles if h.id not in finished
        ]
        stop.set()
        await sampling
        for worker in workers:
            worker.sample()
        rss = [w.peak_mb() for w in workers]
        trees = list(
            await asyncio.gather(
                *(
                    read_tree(client, h.id, h.result_run_id, queue, env)
                    for h, env in zip(handles, envs, strict=True)
                )
            )
        )
        return Phase(worker_count, releases, wall, failed, trees, rss, cpu, len(finished))
    finally:
        stop.set()
        for worker in workers:
            stop_group(worker.process.pid)
        server.stop()


def report(phase: Phase) -> None:
    waits = phase.waits()
    act, wft = phase.all_of("activity_wait_ms"), phase.all_of("workflow_task_wait_ms")
    turn = phase.all_of("turnaround_ms")
    print(f"\n== {phase.workers} worker process(es), {phase.releases} concurrent releases")
    rows = [
        ("wall time (first start → last completion)", f"{phase.wall_s:.1f} s"),
        ("releases per minute", f"{phase.rpm:.1f}"),
        ("step wait p50 / p99 (all tasks)", f"{pct(waits, 50):.1f} / {pct(waits, 99):.1f} ms"),
        ("  activity tasks p50 / p99", f"{pct(act, 50):.1f} / {pct(act, 99):.1f} ms ({len(act)})"),
        ("  workflow tasks p50 / p99", f"{pct(wft, 50):.1f} / {pct(wft, 99):.1f} ms ({len(wft)})"),
        ("turnaround p50 / p99", f"{pct(turn, 50):.1f} / {pct(turn, 99):.1f} ms ({len(turn)})"),
        ("worker peak RSS", ", ".join(f"{mb:.0f} MB" for mb in phase.worker_rss_mb)),
        ("history events per release (mean)", f"{phase.events():.0f}"),
        ("CPU s during the run", ", ".join(f"{k} {v:.1f}" for k, v in phase.cpu.items())),
        ("releases finished / of them failed", f"{phase.completed} / {len(phase.failed)}"),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    if phase.trees:
        by_kind: Counter[str] = Counter()
        activities: Counter[str] = Counter()
        for tree in phase.trees:
            by_kind.update(tree.events_by_type)
            activities.update(tree.activities)
        n = len(phase.trees)
        print("  events per release by workflow: " + ", ".join(
            f"{k} {v / n:.0f}" for k, v in by_kind.most_common()
        ))  # fmt: skip
        print("  activities per release: " + ", ".join(
            f"{k.removeprefix('ferryman.')} {v / n:.0f}" for k, v in activities.most_common()
        ))  # fmt: skip
        waits_by: dict[str, list[float]] = {}
        for tree in phase.trees:
            for name, values in tree.wait_by_activity.items():
                waits_by.setdefault(name, []).extend(values)
        print("  activity wait p50/p99 ms by type: " + ", ".join(
            f"{k} {pct(v, 50):.0f}/{pct(v, 99):.0f}" for k, v in sorted(waits_by.items())
        ))  # fmt: skip
        retried = sum(t.retried for t in phase.trees)
        print(f"  activities started on a retry (attempt > 1; wait includes backoff): {retried}")


DEFINITION = (
    "step latency = *TaskScheduled → *TaskStarted of every activity and workflow task in the "
    "histories of each release, its build, its region deploys and its lock (time a ready step "
    "waited for a worker); turnaround = waking event (activity/child done, timer, signal) → "
    "the workflow task that reacted completed"
)


async def main_async(args: argparse.Namespace, workdir: Path) -> int:
    os.environ["FERRYMAN_HOME"] = str(workdir / "home")
    os.environ[STATE_DIR] = str(workdir / "platform")
    make_repo(workdir)
    plan = base_plan(workdir)
    counts = {"1": [1], "2": [2], "both": [1, 2]}[args.workers]
    timeout = args.timeout or max(300.0, args.releases * 12.0)
    print(
        f"{args.releases} concurrent releases × {len(REGIONS)} regions × {len(ZONES)} zones, "
        "canary (fresh baseline, 20 % → analysis → 50 % → pause 0.5 s), 0.5 s bakes; "
        "provider: ScaleProvider (in the workers; state in flock-ed JSON files; "
        "instances healthy at once), "
        "metric source constant (error rate 0)"
    )
    print(DEFINITION)
    phases = []
    for count in counts:
        phase = await run_phase(plan, args.releases, count, workdir, timeout)
        report(phase)
        phases.append(phase)
    one = phases[0]
    two = next((p for p in phases if p.workers == 2), None)
    head = one if one.workers == 1 else phases[0]
    figures = {
        "releases_per_min": round(head.rpm, 1),
        "step_p99_ms": round(pct(head.waits(), 99), 1),
        "worker_rss_mb": round(max(head.worker_rss_mb), 1),
        "events_per_release": round(head.events(), 1),
        "speedup_2_workers": round(two.rpm / one.rpm, 3) if two and one.workers == 1 else None,
        "concurrent_releases": args.releases,
        "step_p50_ms": round(pct(head.waits(), 50), 1),
        "activity_wait_p99_ms": round(pct(head.all_of("activity_wait_ms"), 99), 1),
        "workflow_task_wait_p99_ms": round(pct(head.all_of("workflow_task_wait_ms"), 99), 1),
        "turnaround_p50_ms": round(pct(head.all_of("turnaround_ms"), 50), 1),
        "turnaround_p99_ms": round(pct(head.all_of("turnaround_ms"), 99), 1),
        "wall_s": round(head.wall_s, 1),
        "failed": sum(len(p.failed) for p in phases),
        "workers": head.workers,
        "provider": "ScaleProvider: in-worker, file-backed, instances healthy at once",
    }
    if two is not None:
        figures |= {
            "releases_per_min_2_workers": round(two.rpm, 1),
            "step_p99_ms_2_workers": round(pct(two.waits(), 99), 1),
            "worker_rss_mb_2_workers": [round(mb, 1) for mb in two.worker_rss_mb],
        }
    bad = [f for p in phases for f in p.failed]
    for line in bad:
        print(f"FAILED {line}", file=sys.stderr)
    print(json.dumps(figures))
    return 1 if bad else 0


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-worker":
        serve_worker(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 releases")
    parser.add_argument("--releases", type=int, default=None, help="concurrent releases (100)")
    parser.add_argument("--workers", choices=("1", "2", "both"), default="both")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per phase")
    args = parser.parse_args()
    args.releases = args.releases or (10 if args.quick else 100)
    with tempfile.TemporaryDirectory() as tmp:
        code = asyncio.run(main_async(args, Path(tmp)))
    sys.exit(code)


if __name__ == "__main__":
    main()
