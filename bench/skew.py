"""Version skew, gaps and rollback on both data planes: ferryman's switch vs a per-zone update.

A region of 3 zones × 2 replicas of the hello service runs on the real local
platform (real agent, real router processes, real instance processes) under
steady sticky traffic from a process of its own: 300 requests/s from a fixed
population of 300 user ids, each sending again and again. It is measured on
two topologies (``--topology``):

- **zonal**: ``data-plane: zonal``, a router per zone behind a front that
  keeps each user in one zone; ferryman switches the zone routers together
  with a two-phase commit;
- **regional**: one router for every zone; ferryman switches it in one swap.

In each round, on each topology, the region goes to a new version twice, each
side starting from the same state (the new version already healthy in every
zone before the switch begins):

- **ferryman**: ``RegionDeployWorkflow`` (barrier, then one switch);
- **naive**: a per-zone pipeline driven through the provider API, one zone at
  a time: move that zone's share to the new version (zonal: that zone's
  router alone; regional: another third of the weights), check the zone's
  new instances, next zone.

Then a third version is deployed and rolled back while the old one is warm.

Every figure is read from the routers' own request logs (through the agent),
not from the client: the *skew window* runs from the first request any router
answered with the new version to the last one any router answered with the
old; the *gap* is the longest stretch with no successful answer at all while
the region went from one to the other (a clean cut shows about one request
interval; an outage shows as a long gap, never as a short skew); *rollback*
runs from the rollback decision to the last request answered by the bad
version. Failed requests are what the client saw (5xx or no answer).

Usage: ``python bench/skew.py [--quick] [--topology zonal|regional|both] [--rounds N]``.
The last line is JSON: ``skew_ms_synced``, ``skew_ms_naive``, ``rollback_ms``,
``errors_during_switch`` and ``gap_ms`` for the zonal topology,
``skew_ms_regional`` and the other ``*_regional`` figures for the regional one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client, WorkflowFailureError

from ferryman import paths
from ferryman.build.artifacts import ArtifactStore
from ferryman.plan.models import HealthPlan, ServicePlan
from ferryman.platform.models import InstanceRequest, RouteTable
from ferryman.providers.local import LocalProvider
from ferryman.providers.local.wire import RequestEntry
from ferryman.temporal.converter import DATA_CONVERTER
from ferryman.temporal.models.region import RegionDeployRequest
from ferryman.temporal.names import region_deploy_id
from ferryman.temporal.worker.workers import local_providers
from ferryman.temporal.workflows.region import RegionDeployWorkflow
from ferryman.testing import AgentProcess, TemporalDevServer
from ferryman.testing.artifacts import store_signed
from ferryman.testing.regions import one_service_deploy
from ferryman.testing.workers import serving
from ferryman.traffic import LoadConfig, LoadStats, run_load

TOPOLOGIES = ("zonal", "regional")
REGIONS = {"zonal": "bench-z", "regional": "bench-r"}
SERVICE, ZONES, REPLICAS = "web", ("a", "b", "c"), 2
COMMAND = "exec python3 server.py"
RPS, USERS = 300, 300
SETTLE_S = 0.5
STEADY_S = 1.0
ENVIRONMENT = "test"
EXAMPLE_APP = Path(__file__).resolve().parents[1] / "examples" / "hello" / "app"


# --- what the routers' logs say ----------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """One transition from ``old`` to ``new``, as the routers answered it."""

    skew_ms: float
    gap_ms: float


def answered(entries: Sequence[RequestEntry], version: str | None = None) -> list[float]:
    """Receipt times of the successful answers (of ``version``, if given), in order."""
    return sorted(e.time for e in entries if e.status < 500 and version in (None, e.version))


def longest_silence(times: Sequence[float], start: float, end: float) -> float:
    """The longest stretch in [start, end] between consecutive ``times`` (sorted), in ms."""
    inside = [start, *(t for t in times if start < t < end), end]
    return max(b - a for a, b in itertools.pairwise(inside)) * 1000


def transition(entries: Sequence[RequestEntry], old: str, new: str) -> Window:
    """Skew (both versions answered) and gap (nobody answered) while ``old`` gave way to ``new``.

    Raises:
        RuntimeError: One of the versions never answered: a bad measurement.
    """
    old_times, new_times = answered(entries, old), answered(entries, new)
    if not old_times or not new_times:
        raise RuntimeError(f"no answers from both {old} and {new} in the window: bad measurement")
    first_new, last_old = new_times[0], old_times[-1]
    start, end = sorted((first_new, last_old))
    gap = longest_silence(answered(entries), start, end) if end > start else 0.0
    return Window(skew_ms=max(0.0, last_old - first_new) * 1000, gap_ms=gap)


def last_answer_ms(entries: Sequence[RequestEntry], version: str, after: float) -> float:
    """Milliseconds from ``after`` to the last request ``version`` answered."""
    times = answered(entries, version)
    if not times:
        raise RuntimeError(f"{version} never answered: bad measurement")
    return max(0.0, (times[-1] - after) * 1000)


# --- one region under test ---------------------------------------------------------------------


@dataclass
class Region:
    """A region of one topology, the workers that deploy to it and the provider behind them."""

    topology: str
    client: Client
    provider: LocalProvider
    queue: str
    digest: str
    artifact_dir: str

    @property
    def name(self) -> str:
        return REGIONS[self.topology]

    def request(self, version: str, **options: object) -> RegionDeployRequest:
        service = ServicePlan(
            name=SERVICE, artifact_node="hello", command=COMMAND, replicas=REPLICAS,
            health=HealthPlan(timeout_s=30, interval_s=0.05),
        )  # fmt: skip
        request = one_service_deploy(
            service, version, self.digest, platform="local", region=self.name, zones=ZONES,
            options=options, environment=ENVIRONMENT,
        )  # fmt: skip
        return request.model_copy(update={"data_plane": self.topology})

    async def synced(self, version: str, **options: object) -> None:
        """ferryman's switch: a region deploy, to the end."""
        request = self.request(version, **options)
        await self.client.execute_workflow(
            RegionDeployWorkflow.run, request,
            id=region_deploy_id(request.release_id, self.name), task_queue=self.queue,
        )  # fmt: skip

    async def healthy_everywhere(self, version: str) -> None:
        """Start ``version`` in every zone and wait until it is healthy in all of them."""
        key = f"bench/{uuid.uuid4()}"
        for zone in ZONES:
            instances = InstanceRequest(
                region=self.name, zone=zone, service=SERVICE, version=version,
                artifact_dir=self.artifact_dir, command=COMMAND, replicas=REPLICAS,
                artifact_digest=self.digest,
            )  # fmt: skip
            await self.provider.prepare(f"{key}/{zone}", instances)
        for zone in ZONES:
            await self.zone_ready(zone, version)

    async def zone_ready(self, zone: str, version: str) -> None:
        while not (await self.provider.health(self.name, zone, SERVICE, version)).ready:
            await asyncio.sleep(0.05)

    async def naive(self, old: str, new: str) -> None:
        """A per-zone pipeline: one zone's share at a time, each zone checked before the next."""
        key = f"naive/{uuid.uuid4()}"
        for index, zone in enumerate(ZONES, start=1):
            await self.move_zone(f"{key}/{zone}", index, zone, old, new)
            await self.zone_ready(zone, new)
        for zone in ZONES:
            await self.provider.retire(f"{key}/retire/{zone}", self.name, zone, SERVICE, old)

    async def move_zone(self, key: str, index: int, zone: str, old: str, new: str) -> None:
        if self.topology == "zonal":
            table = RouteTable(service=SERVICE, weights={new: 100})
            await self.provider.set_zone_traffic(key, self.name, zone, table)
            return
        share = round(100 * index / len(ZONES))
        weights = {new: 100} if share == 100 else {old: 100 - share, new: share}
        await self.provider.set_traffic(
            key, self.name, RouteTable(service=SERVICE, weights=weights)
        )

    async def rollback(self, bad: str) -> tuple[float, float]:
        """Deploy ``bad``, roll it back while the old version is warm.

        Returns when ``bad`` served every request (keep-warm seen) and when the rollback
        was decided (wall clock).
        """
        request = self.request(bad, scale_down_delay_s=600)
        handle = await self.client.start_workflow(
            RegionDeployWorkflow.run, request,
            id=region_deploy_id(request.release_id, self.name), task_queue=self.queue,
        )  # fmt: skip
        while (await handle.query(RegionDeployWorkflow.progress)).services[0].phase != "keep-warm":
            await asyncio.sleep(0.02)
        serving = time.time()
        await asyncio.sleep(SETTLE_S)
        decided = time.time()
        await handle.cancel()
        with contextlib.suppress(WorkflowFailureError):
            await handle.result()
        return serving, decided

    async def log(self, start: float, end: float) -> list[RequestEntry]:
        """What the region's routers answered between ``start`` and ``end`` (wall clock)."""
        return [e for e in await self.provider.request_log(self.name, start) if e.time <= end]


# --- the load, in a process of its own ---------------------------------------------------------


@dataclass(frozen=True)
class Count:
    """The load's counters at one moment."""

    requests: int
    errors: int
    failures: int


async def send_load(url: str) -> None:
    """``--load URL``: steady sticky load until stdin closes; a line on stdin prints the counters.

    The load runs apart from the benchmark's workers, so a workflow task never
    holds up the requests (a stall of the sender would look like a gap).
    """
    stats, stop = LoadStats(), asyncio.Event()
    config = LoadConfig(targets=(url,), rps=RPS, users=USERS, timeout=30.0)
    sender = asyncio.create_task(run_load(config, stop=stop, into=stats))
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while await reader.readline():
        print(json.dumps([stats.requests, stats.errors, stats.failures]), flush=True)
    stop.set()
    await sender
    print(json.dumps([stats.requests, stats.errors, stats.failures]), flush=True)


class Load:
    """The load process on one region's router."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process

    @classmethod
    async def start(cls, url: str) -> Load:
        process = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--load", url,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        return cls(process)

    async def _read(self) -> Count:
        assert self._process.stdout is not None
        line = await self._process.stdout.readline()
        if not line:
            raise RuntimeError("the load process ended early")
        requests, errors, failures = json.loads(line)
        return Count(int(requests), int(errors), int(failures))

    async def count(self) -> Count:
        """The counters now."""
        assert self._process.stdin is not None
        self._process.stdin.write(b"\n")
        await self._process.stdin.drain()
        return await self._read()

    async def stop(self) -> Count:
        """Stop sending; the final counters."""
        assert self._process.stdin is not None
        self._process.stdin.close()
        final = await self._read()
        await self._process.wait()
        return final


# --- rounds ------------------------------------------------------------------------------------


class Labels:
    """Fresh version labels: v1, v2, …"""

    def __init__(self) -> None:
        self.n = 0

    def next(self) -> str:
        self.n += 1
        return f"v{self.n}"


@dataclass
class Round:
    """What one round measured on one topology."""

    synced: Window
    naive: Window
    rolled_back: Window
    rollback_ms: float
    steady_gap_ms: float
    synced_errors: int
    naive_errors: int
    problems: Counter[str]
    naive_problems: Counter[str]


@dataclass
class Measured:
    """What the routers logged from ``since`` until the switch settled, and what failed."""

    entries: list[RequestEntry]
    errors: int
    problems: Counter[str]

    def after(self, moment: float) -> list[RequestEntry]:
        return [e for e in self.entries if e.time > moment]

    def steady_gap_ms(self, until: float) -> float:
        """The longest stretch without a successful answer in the second before ``until``."""
        before = answered([e for e in self.entries if e.time <= until])
        return longest_silence(before, until - STEADY_S, until)


async def measure(region: Region, load: Load, since: float, count: Count) -> Measured:
    """Let a switch settle, then read the routers' logs from ``since``.

    ``count`` is the load's counters from before the switch: failed requests are
    the difference (what the client saw); ``problems`` says what
    they were (the routers' 5xx answers, and requests that got no answer).
    """
    await asyncio.sleep(SETTLE_S)
    entries = await region.log(since, time.time())
    now = await load.count()
    problems = Counter(
        f"HTTP {e.status} {e.version} zone {e.zone}" for e in entries if e.status >= 500
    )
    if now.failures > count.failures:
        problems["no answer"] += now.failures - count.failures
    return Measured(entries, now.errors - count.errors, problems)


async def one_round(region: Region, load: Load, live: str, labels: Labels) -> tuple[str, Round]:
    """ferryman's switch, the naive update, a rollback; returns the live version and figures."""
    new = labels.next()
    await region.healthy_everywhere(new)
    start, count = time.time(), await load.count()
    await region.synced(new, scale_down_delay_s=0)
    synced = await measure(region, load, start - STEADY_S, count)
    synced_window, steady = transition(synced.entries, live, new), synced.steady_gap_ms(start)
    live, new = new, labels.next()

    await region.healthy_everywhere(new)
    start, count = time.time(), await load.count()
    await region.naive(live, new)
    naive = await measure(region, load, start - STEADY_S, count)
    naive_window = transition(naive.entries, live, new)
    steady = max(steady, naive.steady_gap_ms(start))
    live, bad = new, labels.next()

    start, count = time.time(), await load.count()
    serving, decided = await region.rollback(bad)
    rolled = await measure(region, load, start, count)
    return live, Round(
        synced=synced_window,
        naive=naive_window,
        rolled_back=transition(rolled.after(serving), bad, live),
        rollback_ms=last_answer_ms(rolled.entries, bad, decided),
        steady_gap_ms=steady,
        synced_errors=synced.errors + rolled.errors,
        naive_errors=naive.errors,
        problems=synced.problems + rolled.problems,
        naive_problems=naive.problems,
    )


async def run_topology(region: Region, rounds: int) -> tuple[list[Round], int]:
    """Deploy v1, load the region steadily, run the rounds; returns them and the requests sent."""
    labels = Labels()
    live = labels.next()
    await region.synced(live, scale_down_delay_s=0)
    url = (await region.provider.current_state(region.name, SERVICE)).router_url
    assert url, f"{region.name} has no router"
    load = await Load.start(url)
    while (await load.count()).requests < RPS * STEADY_S:  # flowing for a second
        await asyncio.sleep(0.1)
    results: list[Round] = []
    try:
        for n in range(1, rounds + 1):
            live, figures = await one_round(region, load, live, labels)
            print(describe(region.topology, n, figures), file=sys.stderr, flush=True)
            results.append(figures)
    finally:
        final = await load.stop()
    return results, final.requests


# --- figures -----------------------------------------------------------------------------------


def failed(count: int, problems: Counter[str]) -> str:
    """``3 (HTTP 503 v2 zone b: 3)``."""
    listed = ", ".join(f"{what}: {n}" for what, n in problems.most_common())
    return f"{count} ({listed})" if listed else str(count)


def describe(topology: str, n: int, figures: Round) -> str:
    """One round on one line (to stderr, as the run goes)."""
    return (
        f"{topology} round {n}: skew {figures.synced.skew_ms:.1f} ms"
        f" (naive {figures.naive.skew_ms:.1f} ms), rollback {figures.rollback_ms:.1f} ms,"
        f" gaps {figures.synced.gap_ms:.1f}/{figures.rolled_back.gap_ms:.1f} ms"
        f" (steady {figures.steady_gap_ms:.1f} ms),"
        f" failed {failed(figures.synced_errors, figures.problems)}"
        f" (naive {failed(figures.naive_errors, figures.naive_problems)})"
    )


def median(values: Sequence[float]) -> float:
    return round(statistics.median(values), 2)


def worst(values: Sequence[float]) -> float:
    return round(max(values), 2)


def key(name: str, topology: str) -> str:
    """A figure's JSON key: zonal's as named, regional's with ``regional`` in it."""
    if topology == "zonal":
        return name
    return name.replace("_synced", "_regional") if "_synced" in name else f"{name}_regional"


def figures(results: Sequence[Round], topology: str) -> dict[str, float]:
    """One topology's figures (ferryman's worst gap over its switches and rollbacks)."""
    gaps = [w.gap_ms for r in results for w in (r.synced, r.rolled_back)]
    found = {
        "skew_ms_synced": median([r.synced.skew_ms for r in results]),
        "skew_ms_synced_max": worst([r.synced.skew_ms for r in results]),
        "skew_ms_naive": median([r.naive.skew_ms for r in results]),
        "rollback_ms": median([r.rollback_ms for r in results]),
        "rollback_ms_max": worst([r.rollback_ms for r in results]),
        "errors_during_switch": sum(r.synced_errors for r in results),
        "errors_naive": sum(r.naive_errors for r in results),
        "gap_ms": worst(gaps),
        "gap_ms_median": median(gaps),
        "gap_ms_naive": worst([r.naive.gap_ms for r in results]),
        "gap_ms_steady": worst([r.steady_gap_ms for r in results]),
    }
    return {key(name, topology): value for name, value in found.items()}


ROWS = (
    ("skew window, ferryman (median / worst)", "skew_ms_synced", "skew_ms_synced_max"),
    ("skew window, naive per-zone (median)", "skew_ms_naive", None),
    ("rollback: decision → last bad answer (median / worst)", "rollback_ms", "rollback_ms_max"),
    ("longest gap, ferryman's switches and rollbacks (median / worst)", "gap_ms_median", "gap_ms"),
    ("longest gap, naive per-zone (worst)", "gap_ms_naive", None),
    ("longest gap, steady traffic before a switch (worst)", "gap_ms_steady", None),
    ("failed requests, ferryman's switches and rollbacks", "errors_during_switch", None),
    ("failed requests, naive per-zone", "errors_naive", None),
    ("requests", "requests", None),
)


def cell(found: dict[str, float], name: str, second: str | None, topology: str) -> str:
    value = f"{found[key(name, topology)]:g}"
    if second is not None:
        value += f" / {found[key(second, topology)]:g}"
    return value if name.startswith(("errors", "requests")) else f"{value} ms"


def table(found: dict[str, float], topologies: Sequence[str]) -> str:
    """The figures as a Markdown table, a column per topology."""
    lines = ["| figure | " + " | ".join(topologies) + " |", "|---" * (len(topologies) + 1) + "|"]
    for label, name, second in ROWS:
        cells = [cell(found, name, second, topology) for topology in topologies]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --- the run -----------------------------------------------------------------------------------


async def run(topologies: Sequence[str], rounds: int, workdir: Path) -> dict[str, float]:
    """Start a dev server and an agent, then measure each topology in turn."""
    os.environ["FERRYMAN_HOME"] = str(workdir / "home")
    server = TemporalDevServer(log_dir=workdir).start()
    agent = AgentProcess(state_dir=workdir / "agent").start()
    found: dict[str, float] = {"rounds": rounds}
    try:
        client = await Client.connect(server.address, data_converter=DATA_CONVERTER)
        provider = LocalProvider(agent.url, environment=ENVIRONMENT)
        regions = [REGIONS[t] for t in topologies]
        async with serving(client, local_providers(agent.url), regions) as queue:
            store = ArtifactStore(paths.artifacts_dir())
            digest = store_signed(EXAMPLE_APP, ["server.py", "greeting.txt"], node_id="hello")
            artifact_dir = str(store.materialize(digest, workdir / "unpacked"))
            for topology in topologies:
                region = Region(topology, client, provider, queue, digest, artifact_dir)
                results, requests = await run_topology(region, rounds)
                found |= figures(results, topology) | {key("requests", topology): requests}
    finally:
        agent.stop()
        server.stop()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one round instead of five")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per topology")
    parser.add_argument("--topology", choices=(*TOPOLOGIES, "both"), default="both")
    parser.add_argument("--load", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        asyncio.run(send_load(args.load))
        return
    rounds = args.rounds or (1 if args.quick else 5)
    topologies = TOPOLOGIES if args.topology == "both" else (args.topology,)
    with tempfile.TemporaryDirectory() as tmp:
        found = asyncio.run(run(topologies, rounds, Path(tmp)))
    print(table(found, topologies))
    print(json.dumps(found))


if __name__ == "__main__":
    main()
