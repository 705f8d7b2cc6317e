"""Level 6 on the real local platform: a bad version fails in the third wave; the world goes back.

Three regions × two zones of the hello service, one region per wave, steady
sticky traffic through every region's router. The new version never becomes
healthy in the last region (its command checks ``FERRYMAN_REGION``), so the
release restores the regions it switched, the last wave first. Real requests
through each router and the agent's event log are the proof; the workflow's
own account is not.
"""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from subprocess import Popen

import pytest
from temporalio.client import Client, WorkflowFailureError

from ferryman.devstack.processes import stop_group
from ferryman.providers.local import LocalProvider
from ferryman.temporal.workflows.release import ReleaseWorkflow
from ferryman.testing import AgentProcess, TemporalDevServer
from ferryman.testing.processes import start_worker

from .release_helpers import hello_plan, release
from .saga_helpers import (
    BAD_REGION,
    REGIONS,
    ZONES,
    failed,
    last_seq,
    route_swaps,
    starts_by_version,
    traffic_everywhere,
    unhealthy_in,
    versions_served,
    wait_progress,
    world,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]
REPLICAS = 2  # the hello example's


async def test_a_failure_in_the_third_region_puts_the_second_then_the_first_back(
    dev_client: Client, agent: AgentProcess, hello_spec: Path, ferryman_home: Path
) -> None:
    first = await release(dev_client, agent.url, world(hello_plan(hello_spec, "v1")))
    assert first.status == "succeeded"
    routers = first.router_urls
    assert versions_served(routers) == {r: {"v1"} for r in REGIONS}
    provider = LocalProvider(agent.url, environment="dev")
    before = await last_seq(provider)
    bad = unhealthy_in(world(hello_plan(hello_spec, "v2")), BAD_REGION)

    async with traffic_everywhere(routers) as seen:
        with pytest.raises(WorkflowFailureError) as failure:
            await release(dev_client, agent.url, bad)
    message = str(failure.value.cause)
    assert f"{BAD_REGION}: zone " in message and "v2 0/2 instances healthy" in message
    assert message.endswith("restored eu-west, us-east"), message

    assert versions_served(routers) == {r: {"v1"} for r in REGIONS}, "every region is back"
    for region, stats in seen.items():
        assert failed(stats) == 0, f"{region}: {failed(stats)} failed requests"
    for region in ("us-east", "eu-west"):
        assert seen[region].by_version["v2"].requests > 0, f"{region} served v2 for a while"
    assert set(seen[BAD_REGION].by_version) == {"v1"}, "the bad region never switched"

    swaps = await route_swaps(provider, "dev", before)
    assert [s.region for s in swaps] == ["us-east", "eu-west", "eu-west", "us-east"], (
        "switched us-east then eu-west; put back eu-west then us-east, once each"
    )
    started = await starts_by_version(provider, before)
    assert not [k for k in started if k[1] == "v1"], "v1 stayed warm: nothing restarted"
    assert {k: len(v) for k, v in started.items()} == {
        (r, "v2"): len(ZONES) * REPLICAS for r in REGIONS
    }
    for region in REGIONS:
        state = await provider.current_state(region, "web")
        assert state.versions_by_zone == {z: ["v1"] for z in ZONES}, region


@pytest.fixture
def region_workers(
    dev_server: TemporalDevServer, agent: AgentProcess, tmp_path: Path
) -> Iterator[tuple[str, dict[str, Popen[bytes]]]]:
    """A central worker and one worker per region, each its own process, on a private queue."""
    queue = f"ferryman-{uuid.uuid4()}"
    started: dict[str, Popen[bytes]] = {}
    try:
        started["central"] = start_worker(
            dev_server.address, agent.url, tmp_path / "central.log", "--task-queue", queue
        )
        for region in REGIONS:
            started[region] = start_worker(
                dev_server.address, agent.url, tmp_path / f"{region}.log",
                "--task-queue", queue, "--region", region,
            )  # fmt: skip
        yield queue, started
    finally:
        for process in started.values():
            stop_group(process.pid)


def kill(process: Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


async def test_worker_killed_during_the_compensation_finishes_it_without_repeating_a_region(
    dev_server: TemporalDevServer,
    dev_client: Client,
    agent: AgentProcess,
    hello_spec: Path,
    ferryman_home: Path,
    tmp_path: Path,
    region_workers: tuple[str, dict[str, Popen[bytes]]],
) -> None:
    queue, workers = region_workers
    first = await dev_client.execute_workflow(
        ReleaseWorkflow.run,
        world(hello_plan(hello_spec, "v1")),
        id=f"release/hello/dev/{uuid.uuid4()}",
        task_queue=queue,
    )
    routers = first.router_urls
    provider = LocalProvider(agent.url, environment="dev")
    before = await last_seq(provider)
    bad = unhealthy_in(world(hello_plan(hello_spec, "v2")), BAD_REGION)

    async with traffic_everywhere(routers) as seen:
        handle = await dev_client.start_workflow(
            ReleaseWorkflow.run, bad, id=f"release/hello/dev/{uuid.uuid4()}", task_queue=queue
        )
        await wait_progress(
            handle, "us-east switched", lambda p: p.regions["us-east"] == "switched"
        )
        # Hold us-east's restore: nobody serves its queue until a new worker starts.
        kill(workers["us-east"])
        await wait_progress(
            handle,
            "eu-west restored, us-east restoring",
            lambda p: (
                p.phase == "rolling-back"
                and p.regions["eu-west"] == "restored"
                and p.regions["us-east"] == "restoring"
            ),
        )
        kill(workers["central"])
        for name, extra in (("central", ()), ("us-east", ("--region", "us-east"))):
            workers[name] = start_worker(
                dev_server.address, agent.url, tmp_path / f"{name}-2.log",
                "--task-queue", queue, *extra,
            )  # fmt: skip
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    assert str(failure.value.cause).endswith("restored eu-west, us-east")

    assert versions_served(routers) == {r: {"v1"} for r in REGIONS}
    for region, stats in seen.items():
        assert failed(stats) == 0, f"{region}: {failed(stats)} failed requests"
    swaps = await route_swaps(provider, "dev", before)
    assert [s.region for s in swaps] == ["us-east", "eu-west", "eu-west", "us-east"], (
        "each region switched once and was put back once, the last wave first"
    )
    started = await starts_by_version(provider, before)
    assert not [k for k in started if k[1] == "v1"], "no instance of v1 started again"
    assert all(len(v) == len(ZONES) * REPLICAS for v in started.values()), started
