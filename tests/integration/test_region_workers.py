"""Workers for a real cluster: region-local ``ferryman worker --region`` processes.

A two-region release runs with a central worker that serves no region queue and
one worker process per region; the activities' worker identities in each region
deploy's history prove who served what. Then ``ferryman status`` with every
worker down still shows where the release stands, from what the server recorded.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from subprocess import Popen

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from ferryman.deploy.strategies import BlueGreenOptions
from ferryman.devstack.processes import stop_group
from ferryman.plan.models import RegionPlan, ReleasePlan
from ferryman.temporal.names import region_deploy_id
from ferryman.temporal.workflows.region import RegionDeployWorkflow
from ferryman.temporal.workflows.release import ReleaseWorkflow
from ferryman.testing import AgentProcess, TemporalDevServer
from ferryman.testing.processes import start_worker

from .bluegreen_helpers import wait_for_phase
from .release_helpers import hello_plan, served

pytestmark = pytest.mark.integration
REGIONS = ("north-1", "south-1")


def two_regions(plan: ReleasePlan) -> ReleasePlan:
    regions = tuple(RegionPlan(name=name, zones=("a",)) for name in REGIONS)
    deploy = plan.deploy.model_copy(update={"regions": regions, "waves": ()})
    return plan.model_copy(update={"deploy": deploy})


@pytest.fixture
def workers(
    dev_server: TemporalDevServer, agent: AgentProcess, tmp_path: Path
) -> Iterator[tuple[str, dict[str, Popen[bytes]]]]:
    """A central worker and one worker per region, each its own process, on a private queue."""
    queue = f"ferryman-{uuid.uuid4()}"
    common = ("--task-queue", queue)
    started: dict[str, Popen[bytes]] = {}
    try:
        started["central"] = start_worker(
            dev_server.address, agent.url, tmp_path / "central.log", *common
        )
        for region in REGIONS:
            started[region] = start_worker(
                dev_server.address, agent.url, tmp_path / f"{region}.log", *common,
                "--region", region,
            )  # fmt: skip
        yield queue, started
    finally:
        for process in started.values():
            stop_group(process.pid)


async def activity_workers(client: Client, workflow_id: str) -> set[str]:
    """The identities of the workers that started the activities of a workflow."""
    identities = set()
    async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            identities.add(event.activity_task_started_event_attributes.identity)
    return identities


async def test_each_region_is_served_only_by_its_own_worker(
    dev_client: Client,
    agent: AgentProcess,
    hello_spec: Path,
    ferryman_home: Path,
    workers: tuple[str, dict[str, Popen[bytes]]],
) -> None:
    queue, processes = workers
    for version in ("v1", "v2"):  # the second release also retires v1 in its finalize
        plan = two_regions(hello_plan(hello_spec, version))
        release = f"release/hello/dev/{uuid.uuid4()}"
        result = await dev_client.execute_workflow(
            ReleaseWorkflow.run, plan, id=release, task_queue=queue
        )
        assert result.status == "succeeded"
    for region in REGIONS:
        assert {a["version"] for a in served(result.router_urls[region])} == {"v2"}
        for action in ("switch", "finalize"):
            seen = await activity_workers(dev_client, region_deploy_id(release, region, action))
            pids = {identity.split("@")[0] for identity in seen}
            assert pids == {str(processes[region].pid)}, f"{region} {action} served by {seen}"


def status(release: str, address: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FERRYMAN_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "ferryman", "status", release, "--temporal-address", address],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_status_without_a_worker_shows_what_the_server_recorded(
    dev_server: TemporalDevServer,
    dev_client: Client,
    agent: AgentProcess,
    hello_spec: Path,
    ferryman_home: Path,
    workers: tuple[str, dict[str, Popen[bytes]]],
) -> None:
    queue, processes = workers
    plan = two_regions(hello_plan(hello_spec, "v1"))
    service = plan.deploy.services[0]
    held = service.model_copy(update={"strategy": BlueGreenOptions(auto_promote=False)})
    plan = plan.model_copy(update={"deploy": plan.deploy.model_copy(update={"services": (held,)})})
    release = f"release/hello/dev/{uuid.uuid4()}"
    handle = await dev_client.start_workflow(
        ReleaseWorkflow.run, plan, id=release, task_queue=queue
    )
    region = dev_client.get_workflow_handle_for(
        RegionDeployWorkflow.run, region_deploy_id(release, REGIONS[0])
    )
    await wait_for_phase(region, "awaiting-promotion")
    for process in processes.values():
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    answer = status(release, dev_server.address, ferryman_home)
    assert answer.returncode == 0, answer.stderr
    assert "no worker answered; showing what the server recorded last" in answer.stdout
    assert "phase deploy" in answer.stdout and "deploying" in answer.stdout
    missing = status("release/hello/dev/nope", dev_server.address, ferryman_home)
    assert missing.returncode == 4 and "no release 'release/hello/dev/nope'" in missing.stderr
    await handle.terminate()
