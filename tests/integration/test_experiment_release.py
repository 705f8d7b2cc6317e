"""An A/B experiment, end to end: spec, build, release, real traffic, the report and its plot.

The checkout service counts visits to ``/buy`` and conversions on its own
``/metrics``; the new version's ``config/behaviour.json`` converts three times
as often. Users are split 50/50 by sticky bucket; the experiment reads the
services' own counters through the agent and decides at a fixed horizon.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from temporalio.client import Client

from ferryman.providers.local import LocalProvider
from ferryman.temporal.client.experiments import experiment_looks
from ferryman.testing import AgentProcess, TemporalDevServer

from .canary_helpers import SHOP, load
from .release_helpers import plan_on, release

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

SPEC = """\
system: shop-ab
repos:
  checkout:
    source: ./checkout
    build:
      steps:
        - name: package
          run: mkdir -p dist/config && cp app.py shoplib.py dist/ && cp config/*.json dist/config/
    outputs: ["dist/**"]
services:
  checkout:
    artifact: checkout
    run: exec python3 dist/app.py
    health: {path: /healthz, timeout-seconds: 20}
    strategy:
      experiment:
        percent: 50
        metric: {exposures: shop_checkouts_total, conversions: shop_conversions_total}
        stopping: fixed
        min-exposures: 400
        interval: 2s
        count: 90
        scale-down-delay: 1s
environments:
  dev:
    regions:
      local-1: {zones: [a, b]}
"""


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def shop_spec(workdir: Path) -> Path:
    """A one-service spec of the shop's checkout, its source a fresh git repository."""
    repo = workdir / "checkout"
    (repo / "config").mkdir(parents=True)
    shutil.copy(SHOP / "checkout" / "app.py", repo / "app.py")
    shutil.copy(SHOP / "lib" / "shoplib.py", repo / "shoplib.py")
    behave(repo, 0.10)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "checkout converts 10%")
    spec = workdir / "ferryman.yaml"
    spec.write_text(SPEC)
    return spec


def behave(repo: Path, conversion_rate: float) -> None:
    config = {"error_rate": 0.0, "latency_ms": 0, "conversion_rate": conversion_rate}
    (repo / "config" / "behaviour.json").write_text(json.dumps(config))


async def test_an_experiment_with_a_real_difference_picks_the_better_variant(
    dev_server: TemporalDevServer,
    dev_client: Client,
    agent: AgentProcess,
    ferryman_home: Path,
    tmp_path: Path,
) -> None:
    spec = shop_spec(tmp_path)
    first = await release(dev_client, agent.url, plan_on(spec, "dev", "v1"))
    assert first.status == "succeeded", first.error
    router = first.router_urls["local-1"]
    behave(tmp_path / "checkout", 0.30)
    git(tmp_path / "checkout", "commit", "-qam", "checkout converts 30%")
    async with load(router, rps=120, path="/buy") as seen:
        second = await release(dev_client, agent.url, plan_on(spec, "dev", "v2"))
    assert second.status == "succeeded", second.error
    state = await LocalProvider(agent.url, environment="dev").current_state("local-1", "checkout")
    assert state.routes is not None and state.routes.weights == {"v2": 100}, "the winner takes all"
    assert state.versions_by_zone == {"a": ["v2"], "b": ["v2"]}
    assert seen.requests("v1") > 0 and seen.requests("v2") > 0

    looks = await experiment_looks(dev_client, second.release_id)
    last = looks[-1].judgement
    assert last.verdict == "pass"
    assert (looks[-1].control, looks[-1].treatment) == ("v1", "v2")
    assert min(last.canary.n, last.baseline.n) >= 400
    assert last.statistics["lower"] > 0, "the interval on the difference excludes 0"
    assert last.canary.mean is not None and last.baseline.mean is not None
    assert last.canary.mean > last.baseline.mean

    plot = tmp_path / "ab.png"
    shown = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "ferryman",
            "experiment",
            "report",
            second.release_id,
            "--temporal-address",
            dev_server.address,
            "--output",
            str(plot),
        ],
        capture_output=True,
        text=True,
        env={"FERRYMAN_HOME": str(ferryman_home), "PATH": "/usr/bin:/bin", "COLUMNS": "160"},
    )
    assert shown.returncode == 0, shown.stderr
    assert "winner" in shown.stdout and "v2" in shown.stdout and "treatment" in shown.stdout
    assert plot.read_bytes().startswith(b"\x89PNG")
    print(f"\nA/B experiment, {len(looks)} looks:\n{shown.stdout}")
