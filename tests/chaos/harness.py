"""The chaos controller: one seeded release under faults, then its invariants from ground truth.

A :class:`ChaosWorld` is a Temporal dev server on a SQLite file, the local
agent, one worker process (central and every region, its provider wrapped in
:mod:`ferryman.testing.faulty_provider`) and the hello service released
blue-green to three regions, one per wave, with traffic through every router.

:func:`run_seed` draws a :class:`Scenario` from a seed, starts a release and,
while it runs, injects the scenario's process faults at random moments
(SIGKILL the worker and start another; restart the Temporal server on the same
SQLite file; SIGKILL the agent and start it again on the same state); the
worker's provider injects transient errors, timeouts and, in a failure
scenario, refuses every ``prepare`` of one region for good. Afterwards
:func:`violations` checks the world against what the scenario must end in,
from the agent's event log and idempotency records and from real requests
through the routers — never from the workflow's own account.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import sqlite3
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle

from ferryman.approvals.policy import GateDecision
from ferryman.deploy.strategies import BlueGreenOptions
from ferryman.devstack.processes import stop_group
from ferryman.plan.models import GatePlan, ReleasePlan
from ferryman.providers.local import LocalProvider
from ferryman.temporal.client.gates import GateRefused, decide, pending_gates
from ferryman.temporal.models.release import ReleaseResult
from ferryman.temporal.workflows.release import ReleaseWorkflow
from ferryman.testing import AgentProcess, TemporalDevServer
from ferryman.testing.faulty_provider import ENV_VAR, FaultConfig
from ferryman.testing.processes import start_worker
from ferryman.traffic import LoadStats

from ..integration.release_helpers import hello_plan, with_service
from ..integration.saga_helpers import (
    REGIONS,
    ZONES,
    failed,
    last_seq,
    traffic_everywhere,
    versions_served,
    world,
)

REPLICAS = 2  # the hello example's
SERVICE = "web"
ENVIRONMENT = "dev"
RUN_TIMEOUT_S = 300.0
GATE = "wave-2"
APPROVERS = ("ann", "bob")
REPORTS: list[RunReport] = []
"""Every run of this session, for the summary at its end."""


@dataclass(frozen=True)
class Scenario:
    """What a seed does to one release.

    Attributes:
        seed: Replays the scenario (the moments of the process faults and the
            provider's draws; the interleaving with the release is the machine's).
        worker_kills: SIGKILLs of the worker (a new one starts at once).
        server_restarts: Restarts of the Temporal dev server.
        agent_restarts: SIGKILL-and-restarts of the local agent.
        gaps_s: Seconds before each process fault, in order.
        order: The process faults, in the order they are injected.
        faults: The provider faults of the worker.
        failing_region: The region refusing ``prepare`` for good (a failure scenario).
        gate: A gate before the second wave that two approvers pass, each sending
            their approval twice, while the faults go on.
    """

    seed: int
    worker_kills: int
    server_restarts: int
    agent_restarts: int
    order: tuple[str, ...]
    gaps_s: tuple[float, ...]
    faults: FaultConfig
    failing_region: str | None
    gate: bool = False

    @classmethod
    def draw(cls, seed: int) -> Scenario:
        """The scenario of ``seed``."""
        rng = random.Random(seed)
        kills = rng.randint(1, 3)
        servers = rng.choice((0, 1, 1))
        agents = rng.choice((0, 1, 1))
        order = ["worker"] * kills + ["server"] * servers + ["agent"] * agents
        rng.shuffle(order)
        gaps = tuple(round(rng.uniform(0.3, 3.0), 2) for _ in order)
        failing = rng.choice(REGIONS) if rng.random() < 0.3 else None
        faults = FaultConfig(
            seed=seed,
            transient_rate=rng.choice((0.1, 0.2, 0.3)),
            timeout_rate=rng.choice((0.0, 0.05, 0.1)),
            timeout_s=2.0,
            fail_region=failing,
        )
        gate = rng.random() < 0.5
        return cls(seed, kills, servers, agents, tuple(order), gaps, faults, failing, gate)

    def describe(self) -> str:
        """One line: what this seed injects."""
        ending = f"{self.failing_region} refuses prepare" if self.failing_region else "succeeds"
        return (
            f"{', '.join(self.order)} at gaps {list(self.gaps_s)}; "
            f"transient {self.faults.transient_rate:g}, timeouts {self.faults.timeout_rate:g}; "
            f"{'gate before wave 2; ' if self.gate else ''}{ending}"
        )

    @property
    def gate_opens(self) -> bool:
        """Whether the gate is reached: the first wave must switch first."""
        return self.gate and self.failing_region != REGIONS[0]


@dataclass
class RunReport:
    """What one seeded run did and what it broke."""

    seed: int
    scenario: str
    status: str = ""
    injected: Counter[str] = field(default_factory=Counter)
    approvals: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    seconds: float = 0.0


def replay_hint(seed: int) -> str:
    """How to run one seed again."""
    return f"FERRYMAN_CHAOS_SEED={seed} make chaos"


@dataclass
class ChaosWorld:
    """The processes of the chaos runs and the world they act on."""

    server: TemporalDevServer
    agent: AgentProcess
    spec: Path
    logs: Path
    client: Client | None = None
    queue: str = field(default_factory=lambda: f"ferryman-chaos-{uuid.uuid4()}")
    worker: Popen[bytes] | None = None
    workers_started: int = 0
    routers: dict[str, str] = field(default_factory=dict)
    current: str = ""
    releases: int = 0

    @property
    def provider(self) -> LocalProvider:
        """A client of the agent in the releases' environment."""
        return LocalProvider(self.agent.url, environment=ENVIRONMENT)

    async def start_worker(self, faults: FaultConfig | None) -> None:
        """Start a worker serving everything on the world's queue (with ``faults``, if any)."""
        self.workers_started += 1
        env = {ENV_VAR: faults.model_dump_json() if faults else ""}
        regions = [arg for region in REGIONS for arg in ("--region", region)]
        self.worker = await asyncio.to_thread(
            start_worker,
            self.server.address,
            self.agent.url,
            self.logs / f"worker-{self.workers_started}.log",
            "--central", *regions, "--task-queue", self.queue,
            module="ferryman.testing.faulty_provider",
            env=env,
        )  # fmt: skip

    async def kill_worker(self) -> None:
        """SIGKILL the worker, as a crash would."""
        if self.worker is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.worker.pid, signal.SIGKILL)
            await asyncio.to_thread(self.worker.wait)
            self.worker = None

    def stop(self) -> None:
        """Stop the worker (the fixtures stop the server and the agent)."""
        if self.worker is not None:
            stop_group(self.worker.pid)
            self.worker = None

    def plan(self, version: str, gate: bool = False) -> ReleasePlan:
        """The hello service, blue-green to three regions of two zones, one region per wave.

        With ``gate``, the second wave waits for two of :data:`APPROVERS`.
        """
        blue_green = BlueGreenOptions(scale_down_delay_s=0)
        plan = world(with_service(hello_plan(self.spec, version), strategy=blue_green))
        if not gate:
            return plan
        gates = (GatePlan(name=GATE, at="before-wave", wave=2, approvers=APPROVERS, required=2),)
        return plan.model_copy(update={"deploy": plan.deploy.model_copy(update={"gates": gates})})

    async def release(
        self, version: str, gate: bool = False
    ) -> tuple[WorkflowHandle[Any, Any], str]:
        """Start a release of ``version``; returns its handle and id."""
        assert self.client is not None
        self.releases += 1
        release_id = f"release/hello/{ENVIRONMENT}/chaos-{version}-{uuid.uuid4().hex[:8]}"
        handle = await self.client.start_workflow(
            ReleaseWorkflow.run, self.plan(version, gate), id=release_id, task_queue=self.queue
        )
        return handle, release_id

    async def baseline(self) -> None:
        """Release v1 everywhere with no fault, so every region has a router and a version."""
        await self.start_worker(None)
        handle, _ = await self.release("v1")
        result: ReleaseResult = await asyncio.wait_for(handle.result(), RUN_TIMEOUT_S)
        assert result.status == "succeeded", result
        self.routers = dict(result.router_urls)
        self.current = "v1"


async def finished(handle: WorkflowHandle[Any, Any], timeout_s: float) -> str:
    """Poll until the workflow closed (through server restarts); its final status's name."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            status = (await handle.describe()).status
            if status not in (None, WorkflowExecutionStatus.RUNNING):
                return status.name
        await asyncio.sleep(0.5)
    return "STILL RUNNING"


async def inject(chaos: ChaosWorld, scenario: Scenario, done: asyncio.Event) -> Counter[str]:
    """The scenario's process faults at its moments, until the release is done; what ran."""
    injected: Counter[str] = Counter()
    incarnation = 0
    for kind, gap in zip(scenario.order, scenario.gaps_s, strict=True):
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), gap)
        if done.is_set():
            break
        print(f"  chaos seed={scenario.seed}: {kind} fault at +{gap}s", flush=True)
        if kind == "worker":
            await chaos.kill_worker()
            incarnation += 1
            faults = scenario.faults.model_copy(update={"incarnation": incarnation})
            await chaos.start_worker(faults)
            injected["worker-kill"] += 1
        elif kind == "server":
            await asyncio.to_thread(chaos.server.restart)
            injected["server-restart"] += 1
        else:
            await asyncio.to_thread(chaos.agent.kill)
            await asyncio.to_thread(chaos.agent.start)
            injected["agent-restart"] += 1
    return injected


async def approve(
    chaos: ChaosWorld, release_id: str, seed: int, done: asyncio.Event
) -> Counter[str]:
    """Each approver approves the gate once it is open, and sends it again (a client retry).

    A call that fails on the way (a restarting server) is sent again until the
    gate answers; a repeat must be refused (``conflict``), never counted twice.
    Returns the answers per kind (``approved``, ``refused-<kind>``).
    """
    assert chaos.client is not None
    answers: Counter[str] = Counter()
    while not done.is_set():
        with contextlib.suppress(Exception):
            if await pending_gates(chaos.client, release_id):
                break
        await asyncio.sleep(0.5)
    for user in (user for user in APPROVERS for _ in range(2)):
        decision = GateDecision(gate=GATE, user=user, comment=f"chaos seed={seed}")
        while not done.is_set():
            try:
                await decide(chaos.client, release_id, decision)
                answers["approved"] += 1
                break
            except GateRefused as refused:
                if "takes no decision now" in refused.message:
                    await asyncio.sleep(0.5)  # a restarting server: send it again
                    continue
                answers[f"refused-{refused.kind}"] += 1
                break
            except Exception:
                await asyncio.sleep(0.5)
    return answers


async def approvals_in_history(chaos: ChaosWorld, release_id: str) -> Counter[str]:
    """Accepted ``decide`` Updates per user, read from the release's Temporal history."""
    assert chaos.client is not None
    history = await chaos.client.get_workflow_handle(release_id).fetch_history()
    accepted: Counter[str] = Counter()
    for event in history.events:
        if not event.HasField("workflow_execution_update_accepted_event_attributes"):
            continue
        request = event.workflow_execution_update_accepted_event_attributes.accepted_request
        if request.input.name != "decide":
            continue
        for payload in request.input.args.payloads:
            body = json.loads(payload.data)
            accepted[f"{body['user']} {body['verdict']}"] += 1
    return accepted


async def run_seed(chaos: ChaosWorld, seed: int) -> RunReport:
    """One release under the faults of ``seed``; returns what happened and what it broke."""
    scenario = Scenario.draw(seed)
    report = RunReport(seed, scenario.describe())
    print(f"\nchaos seed={seed}: {scenario.describe()}", flush=True)
    print(f"  replay: {replay_hint(seed)}", flush=True)
    began = time.monotonic()
    old = chaos.current
    new = f"v{chaos.releases + 1}"
    fault_log = chaos.logs / f"faults-{seed}.jsonl"
    fault_log.unlink(missing_ok=True)
    faults = scenario.faults.model_copy(update={"log": str(fault_log)})
    scenario = Scenario(**{**scenario.__dict__, "faults": faults})
    await chaos.kill_worker()
    await chaos.start_worker(faults)
    before = await last_seq(chaos.provider)
    async with traffic_everywhere(chaos.routers, rps=20) as seen:
        handle, release_id = await chaos.release(new, scenario.gate)
        done = asyncio.Event()
        injector = asyncio.create_task(inject(chaos, scenario, done))
        approver = (
            asyncio.create_task(approve(chaos, release_id, seed, done)) if scenario.gate else None
        )
        report.status = await finished(handle, RUN_TIMEOUT_S)
        done.set()
        report.injected = await injector
        report.approvals = await approver if approver else Counter()
    for line in fault_log.read_text().splitlines() if fault_log.exists() else []:
        report.injected[f"provider-{json.loads(line)['kind']}"] += 1
    report.violations = await violations(
        chaos, scenario, report.status, release_id, before, (old, new), seen
    )
    if scenario.gate:
        report.violations += await gate_violations(chaos, scenario, release_id, report.approvals)
    report.seconds = round(time.monotonic() - began, 1)
    if not scenario.failing_region:
        chaos.current = new
    print(
        f"  chaos seed={seed}: {report.status} in {report.seconds}s, injected "
        f"{dict(report.injected)}, gate answers {dict(report.approvals)}, "
        f"{len(report.violations)} violations",
        flush=True,
    )
    for violation in report.violations:
        print(f"  VIOLATION seed={seed}: {violation}", flush=True)
    REPORTS.append(report)
    return report


def _idempotency(agent: AgentProcess, scoped_prefix: str) -> dict[str, Any]:
    """The agent's stored answers whose scoped key starts with ``scoped_prefix``."""
    uri = f"file:{agent.state_dir / 'agent.db'}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=10)) as db:
        rows = db.execute(
            "SELECT key, response FROM idempotency WHERE key LIKE ?", (scoped_prefix + "%",)
        ).fetchall()
    return {key: json.loads(response) for key, response in rows}


async def violations(
    chaos: ChaosWorld,
    scenario: Scenario,
    status: str,
    release_id: str,
    before: int,
    versions: tuple[str, str],
    seen: dict[str, LoadStats],
) -> list[str]:
    """Every invariant the world breaks after a run, from ground truth.

    * every router answers real requests with the expected version only (the
      new one after a success, the old one after a failure) and the agent runs
      only that version in every zone;
    * no instance started twice, and each zone started the new version's
      replicas once (a zone that never deployed started none; nothing restarted
      the old version);
    * every ``routes.set`` is the one stored answer of one route key of the
      release (a swap repeated for the same step has no key of its own), and
      each region swapped exactly as often as the scenario allows: once after
      a success; after a failure twice in each region of an earlier wave
      (switch and restore) and never in the failing region or after it;
    * no request failed in any region (the failing region never switches, so
      it has no switch to excuse an error), and each region that switched
      served the new version for a while.
    """
    found: list[str] = []
    old, new = versions
    failing = scenario.failing_region
    expected = old if failing else new
    outcome = "FAILED" if failing else "COMPLETED"
    if status != outcome:
        found.append(f"the release ended {status}, expected {outcome}")
    switched = REGIONS[: REGIONS.index(failing)] if failing else REGIONS

    served = await asyncio.to_thread(versions_served, chaos.routers)
    for region in REGIONS:
        if served[region] != {expected}:
            found.append(f"{region} serves {sorted(served[region])}, expected {expected}")
        state = await chaos.provider.current_state(region, SERVICE)
        if state.versions_by_zone != {zone: [expected] for zone in ZONES}:
            found.append(f"{region} runs {state.versions_by_zone}, expected {expected} only")

    provider = chaos.provider
    instances = {i.id: i for i in await provider.instances()}
    starts = await provider.events("instance.started", before)
    twice = [i for i, n in Counter(e.instance for e in starts).items() if n > 1]
    if twice:
        found.append(f"instances started twice: {twice}")
    per_zone: Counter[tuple[str, str, str]] = Counter()
    for event in starts:
        instance = instances.get(event.instance or "")
        if instance is None:
            found.append(f"instance.started for an unknown instance: {event}")
            continue
        per_zone[instance.region, instance.zone, instance.version] += 1
    want = Counter(
        {(r, z, new): REPLICAS for r in (switched if failing else REGIONS) for z in ZONES}
    )
    if per_zone != want:
        found.append(f"instance starts per zone {dict(per_zone)}, expected {dict(want)}")

    prepared = _idempotency(chaos.agent, f"{ENVIRONMENT}/prepare:{release_id}/")
    keys_per_zone: Counter[tuple[str, str]] = Counter()
    for answer in prepared.values():
        zones = {(i["region"], i["zone"]) for i in answer["instances"]}
        keys_per_zone.update(zones)
    repeated = {where: n for where, n in keys_per_zone.items() if n > 1}
    if repeated:
        found.append(f"more than one prepare key per zone: {repeated}")

    routes = _idempotency(chaos.agent, f"{ENVIRONMENT}/routes:{release_id}/")
    keyed = Counter(
        (key.removeprefix(f"{ENVIRONMENT}/routes:{release_id}/").split("/")[0], a["generation"])
        for key, a in routes.items()
    )
    swaps: Counter[tuple[str, int]] = Counter()
    for event in await provider.events("routes.set", before):
        where, service, generation = event.detail.split()[:3]
        env, _, region = where.partition("/")
        if env == ENVIRONMENT and service == SERVICE:
            swaps[region, int(generation)] += 1
    if swaps != keyed:
        found.append(f"route swaps {dict(swaps)} are not one per route key {dict(keyed)}")
    per_region = Counter(region for region, _ in swaps.elements())
    want_swaps = Counter({r: 2 for r in switched} if failing else dict.fromkeys(REGIONS, 1))
    if per_region != want_swaps:
        found.append(f"route swaps per region {dict(per_region)}, expected {dict(want_swaps)}")

    for region, stats in seen.items():
        if failed(stats):
            found.append(f"{region}: {failed(stats)} of {stats.requests} requests failed")
        if region in switched and new not in stats.by_version:
            found.append(f"{region} switched but the traffic never saw {new}")
        if region not in switched and new in stats.by_version:
            found.append(f"{region} never switched but the traffic saw {new}")
    return found


async def gate_violations(
    chaos: ChaosWorld, scenario: Scenario, release_id: str, answers: Counter[str]
) -> list[str]:
    """Each approver's approval is in the history exactly once, and nothing else was accepted."""
    found = []
    accepted = await approvals_in_history(chaos, release_id)
    want = Counter({f"{user} approve": 1 for user in APPROVERS} if scenario.gate_opens else {})
    if accepted != want:
        found.append(f"approvals in the history {dict(accepted)}, expected {dict(want)}")
    if scenario.gate_opens and answers != Counter(
        {"approved": len(APPROVERS), "refused-conflict": len(APPROVERS)}
    ):
        found.append(f"approvers answered {dict(answers)}: not 2 approvals and 2 repeats refused")
    return found


def summary(reports: Sequence[RunReport]) -> list[str]:
    """The lines of the end-of-session summary."""
    if not reports:
        return []
    kinds: Counter[str] = Counter()
    for report in reports:
        kinds.update(report.injected)
    broken = [r for r in reports if r.violations]
    lines = [
        f"{len(reports)} runs, {sum(r.seconds for r in reports):.0f}s of releases, "
        f"{len(broken)} with violations",
        "faults injected: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())),
        "seeds: " + " ".join(f"{r.seed}({r.status.lower()})" for r in reports),
    ]
    lines += [f"seed={r.seed}: {v}" for r in broken for v in r.violations]
    return lines
