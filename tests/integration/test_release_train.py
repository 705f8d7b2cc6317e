"""The release-train example end to end: a user's own workflow runs ferryman releases as children.

``examples/release-train``: the train's worker and its starter are the example's
own scripts, run as processes; ferryman's workers run in-process on a private
queue; both systems are built and deployed to the real agent, one after the
other, with a person's go between them. The first car holds at the catalog
team's own ferryman gate, decided through the library (``ferryman.decide_gate``);
the train refuses a go while a car is under way.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from subprocess import Popen
from typing import Any

import pytest
from temporalio.client import Client

import ferryman
from ferryman.demo import prepare_example
from ferryman.devstack.processes import spawn, stop_group
from ferryman.identity.config import ensure_demo_config
from ferryman.providers.local import LocalProvider
from ferryman.temporal.activities.analysis import MetricSources
from ferryman.temporal.client.releases import release_progress
from ferryman.temporal.worker.workers import local_providers
from ferryman.testing import AgentProcess, TemporalDevServer
from ferryman.testing.workers import serving

from .conftest import EXAMPLES

pytestmark = pytest.mark.integration

TRAIN = EXAMPLES / "release-train"
SYSTEMS = ("catalog", "checkout")


def script(address: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TRAIN / "start.py"), "--address", address, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def train_queue(dev_server: TemporalDevServer, tmp_path: Path) -> Iterator[str]:
    """The train's own worker (the example's worker.py) as a process, on a private queue."""
    queue = f"release-train-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "train-worker.log"
    argv = [
        sys.executable, str(TRAIN / "worker.py"),
        "--address", dev_server.address, "--task-queue", queue,
    ]  # fmt: skip
    process: Popen[bytes] = spawn(argv, log)
    yield queue
    stop_group(process.pid)


async def train_status(client: Client, train_id: str) -> dict[str, Any]:
    status: dict[str, Any] = await client.get_workflow_handle(train_id).query("status")
    return status


async def serves(agent: AgentProcess, service: str, version: str) -> bool:
    state = await LocalProvider(agent.url, environment="dev").current_state("local-1", service)
    return state.routes is not None and state.routes.weights == {version: 100}


async def test_the_release_train_releases_each_system_with_a_go_between(
    dev_server: TemporalDevServer,
    dev_client: Client,
    agent: AgentProcess,
    tmp_path: Path,
    train_queue: str,
    ferryman_home: Path,
) -> None:
    ensure_demo_config()  # alice, a release manager, may open the catalog's gate
    specs = [
        prepare_example(TRAIN / "systems" / name, tmp_path / "systems" / name) for name in SYSTEMS
    ]
    train_id = f"train/dev/{uuid.uuid4().hex[:8]}"
    metrics = MetricSources(agent.url)
    async with serving(dev_client, local_providers(agent.url), ["local-1"], metrics=metrics) as q:
        started = await asyncio.to_thread(
            script,
            dev_server.address,
            "start", *map(str, specs), "--env", "dev", "--version", "v1", "--id", train_id,
            "--task-queue", train_queue, "--ferryman-queue", q, "--detach",
        )  # fmt: skip
        assert started.returncode == 0, started.stderr
        assert started.stdout.strip() == train_id

        # The first car holds at the catalog team's own gate: the train takes no go now.
        catalog_id = f"{train_id}/catalog"
        for _ in range(1200):
            progress, _ = await release_progress(dev_client, catalog_id)
            if progress is not None and progress.phase == "awaiting-approval":
                break
            await asyncio.sleep(0.1)
        assert progress is not None and progress.phase == "awaiting-approval", progress
        early = await asyncio.to_thread(script, dev_server.address, "go", train_id, "--by", "bo")
        assert early.returncode == 2
        assert "go refused: the train is not waiting for a go (releasing catalog)" in early.stderr
        answer = await ferryman.decide_gate(
            dev_client, catalog_id, user="alice", comment="catalog dashboard is green"
        )
        assert "approved" in answer

        status: dict[str, Any] = {}
        for _ in range(1200):
            status = await train_status(dev_client, train_id)
            if status["waiting_for"]:
                break
            await asyncio.sleep(0.1)
        assert status["waiting_for"] == "a go for checkout (after catalog)", status
        (catalog,) = status["cars"]
        assert catalog["status"] == "succeeded" and catalog["version"] == "v1"
        assert catalog["release_id"] == f"{train_id}/catalog"
        assert await serves(agent, "catalog", "v1")
        progress, _ = await release_progress(dev_client, catalog_id)
        assert progress is not None and progress.phase == "done"

        go = await asyncio.to_thread(script, dev_server.address, "go", train_id, "--by", "alice")
        assert go.returncode == 0, go.stderr
        assert "a go for checkout (after catalog): given by alice" in go.stdout
        result: dict[str, Any] = await dev_client.get_workflow_handle(train_id).result()

    assert result["status"] == "done"
    assert [(c["system"], c["status"]) for c in result["cars"]] == [
        ("catalog", "succeeded"),
        ("checkout", "succeeded"),
    ]
    assert await serves(agent, "catalog", "v1") and await serves(agent, "checkout", "v1")
