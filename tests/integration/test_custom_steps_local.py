"""Teams' steps end to end: a separate plain-temporalio worker process, the dev server, the agent.

The team's worker is ``examples/team-step/worker.py``: a script that imports
``temporalio`` and nothing of ferryman. ferryman's own workers run in-process on
a private queue; the hello example is built and deployed to the real agent.

- Before the team's worker exists, ``ferryman status`` says the step is waiting
  for a worker on the team's queue; once it runs, the step runs and its result
  is recorded (with a webhook step's answer beside it).
- The same step failing in one region rolls that region back; the release's
  saga then restores the region where it had succeeded, running its declared
  compensation there first.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from subprocess import Popen
from typing import Any

import pytest
from aiohttp import web
from temporalio.client import Client, WorkflowFailureError

from ferryman.devstack.processes import spawn, stop_group
from ferryman.providers.local import LocalProvider
from ferryman.temporal.activities.analysis import MetricSources
from ferryman.temporal.models.release import ReleaseResult
from ferryman.temporal.names import region_deploy_id
from ferryman.temporal.worker.workers import local_providers
from ferryman.temporal.workflows.release import ReleaseWorkflow
from ferryman.testing import AgentProcess, TemporalDevServer, free_port
from ferryman.testing.workers import serving

from .conftest import EXAMPLES
from .release_helpers import plan_on, release

pytestmark = pytest.mark.integration

WORKER = EXAMPLES / "team-step" / "worker.py"


class TeamWorker:
    """The team's worker script as its own process, and the journal of its calls."""

    def __init__(self, address: str, queue: str, root: Path) -> None:
        self.address, self.queue = address, queue
        self.journal = root / "journal.jsonl"
        self.log = root / "team-worker.log"
        self.process: Popen[bytes] | None = None

    async def start(self) -> None:
        argv = [
            sys.executable, str(WORKER), "--address", self.address,
            "--task-queue", self.queue, "--journal", str(self.journal),
        ]  # fmt: skip
        self.process = spawn(argv, self.log)
        for _ in range(600):
            if self.log.exists() and f"serving {self.queue}" in self.log.read_text():
                return
            assert self.process.poll() is None, f"team worker died: {self.log.read_text()}"
            await asyncio.sleep(0.05)
        raise AssertionError(f"the team worker never started: {self.log.read_text()}")

    def stop(self) -> None:
        if self.process is not None:
            stop_group(self.process.pid)
            self.process = None

    def calls(self) -> list[tuple[str, str, str]]:
        """(activity, region, outcome) of every call, in order."""
        if not self.journal.exists():
            return []
        lines = [json.loads(line) for line in self.journal.read_text().splitlines()]
        return [(c["activity"], c["region"], c["outcome"]) for c in lines]


@pytest.fixture
def team(dev_server: TemporalDevServer, tmp_path: Path) -> Iterator[TeamWorker]:
    worker = TeamWorker(dev_server.address, f"payments-ops-{uuid.uuid4().hex[:8]}", tmp_path)
    yield worker
    worker.stop()


def with_regions_and_steps(spec: Path, steps: str) -> Path:
    """The hello spec with two regions (one wave each) and these ``steps`` in ``dev``."""
    text = spec.read_text()
    regions = "      local-1:\n        zones: [a]\n"
    assert regions in text
    spec.write_text(
        text.replace(regions, "      local-1: {zones: [a]}\n      local-2: {zones: [a]}\n" + steps)
    )
    return spec


@pytest.fixture
async def hook() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A team's HTTP service: answers ``/deployed`` with 200 and records what it got."""
    seen: list[dict[str, Any]] = []

    async def deployed(request: web.Request) -> web.Response:
        seen.append(await request.json())
        return web.json_response({"ok": True})

    app = web.Application()
    app.add_routes([web.post("/deployed", deployed)])
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}", seen
    await runner.cleanup()


async def activity_payloads(
    client: Client, workflow_id: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Activity type → its input and its result, as the workflow's history holds them."""
    sent: dict[str, Any] = {}
    answered: dict[str, Any] = {}
    names: dict[int, str] = {}
    async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
        if event.HasField("activity_task_scheduled_event_attributes"):
            scheduled = event.activity_task_scheduled_event_attributes
            names[event.event_id] = scheduled.activity_type.name
            sent[scheduled.activity_type.name] = json.loads(scheduled.input.payloads[0].data)
        elif event.HasField("activity_task_completed_event_attributes"):
            done = event.activity_task_completed_event_attributes
            name = names[done.scheduled_event_id]
            answered[name] = json.loads(done.result.payloads[0].data)
    return sent, answered


def status_of(address: str, release_id: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "ferryman", "status", release_id, "--temporal-address", address],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "COLUMNS": "250"},
    )
    return out.stdout + out.stderr


async def test_a_step_waits_for_its_worker_then_runs_and_its_result_is_recorded(
    dev_server: TemporalDevServer,
    dev_client: Client,
    agent: AgentProcess,
    hello_spec: Path,
    team: TeamWorker,
    hook: tuple[str, list[dict[str, Any]]],
) -> None:
    url, seen = hook
    spec = with_regions_and_steps(
        hello_spec,
        "    steps:\n"
        "      - at: after-region\n"
        "        regions: [local-1]\n"
        "        activity:\n"
        f"          {{name: migrate-db, task-queue: {team.queue}, input: {{schema: v42}},\n"
        "           worker-wait: 1s, heartbeat: 30s, timeout: 1m}\n"
        "      - name: tell-payments\n"
        "        at: after-wave 2\n"
        f"        webhook: {{url: '{url}/deployed', expect: {{body: '\"ok\"'}}}}\n",
    )
    plan = plan_on(spec, "dev", "v1")
    regions = [r.name for r in plan.deploy.regions]
    providers = local_providers(agent.url)
    async with serving(dev_client, providers, regions, metrics=MetricSources(agent.url)) as queue:
        handle = await dev_client.start_workflow(
            ReleaseWorkflow.run,
            plan,
            id=f"release/hello/dev/{uuid.uuid4()}",
            task_queue=queue,
        )
        status = ""
        for _ in range(240):
            status = await asyncio.to_thread(status_of, dev_server.address, handle.id)
            if f"waiting for a worker on {team.queue}" in status:
                break
            await asyncio.sleep(0.25)
        assert f"is waiting for a worker on {team.queue}" in status, status
        assert "migrate-db" in status and "waiting-for-worker" in status
        await team.start()
        result: ReleaseResult = await handle.result()
    assert result.status == "succeeded"
    migrate, tell = result.steps
    assert (migrate.name, migrate.region, migrate.status) == ("migrate-db", "local-1", "succeeded")
    assert migrate.input == {"schema": "v42"}
    assert migrate.result == {
        "schema": "v42",
        "region": "local-1",
        "key": f"{handle.id}/local-1/step/migrate-db",
    }
    assert tell.status == "succeeded" and isinstance(tell.result, dict)
    assert tell.result["status"] == 200 and tell.result["parsed"] == {"ok": True}
    assert [s["step"] for s in seen] == ["tell-payments"] and seen[0]["version"] == "v1"
    assert team.calls() == [("migrate-db", "local-1", "succeeded")]
    sent, answered = await activity_payloads(dev_client, region_deploy_id(handle.id, "local-1"))
    assert sent["migrate-db"]["input"] == {"schema": "v42"}
    assert sent["migrate-db"]["schema_version"] == 1 and sent["migrate-db"]["region"] == "local-1"
    assert answered["migrate-db"] == migrate.result, "the history holds the step's result"
    for region in regions:
        state = await LocalProvider(agent.url, environment="dev").current_state(region, "web")
        assert state.routes is not None and state.routes.weights == {"v1": 100}


async def test_a_failing_step_rolls_its_region_back_and_the_saga_compensates(
    dev_client: Client, agent: AgentProcess, hello_spec: Path, team: TeamWorker
) -> None:
    spec = with_regions_and_steps(
        hello_spec,
        "    steps:\n"
        "      - at: after-region\n"
        "        activity:\n"
        "          name: migrate-db\n"
        f"          task-queue: {team.queue}\n"
        "          input: {schema: v43, fail-in: [local-2]}\n"
        "          retries: 0\n"
        "          compensate: {name: rollback-db, input: {schema: v42}}\n",
    )
    await team.start()
    baseline = plan_on(spec, "dev", "v1")
    without_steps = baseline.deploy.model_copy(update={"steps": ()})
    first = await release(
        dev_client, agent.url, baseline.model_copy(update={"deploy": without_steps})
    )
    assert first.status == "succeeded"
    with pytest.raises(WorkflowFailureError) as failure:
        await release(dev_client, agent.url, plan_on(spec, "dev", "v2"))
    message = str(failure.value.cause)
    assert "local-2: step migrate-db in local-2 failed: migration to v43 failed" in message
    assert "restored local-1" in message
    assert team.calls() == [
        ("migrate-db", "local-1", "succeeded"),
        ("migrate-db", "local-2", "failed"),
        ("rollback-db", "local-1", "succeeded"),
    ]
    provider = LocalProvider(agent.url, environment="dev")
    for region in ("local-1", "local-2"):
        state = await provider.current_state(region, "web")
        assert state.routes is not None and state.routes.weights == {"v1": 100}, region
