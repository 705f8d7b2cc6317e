"""``ferryman traffic`` as a user runs it: real routers, real instances, a real subprocess."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ferryman.platform.models import RouteTable
from ferryman.testing.platform import LocalPlatform

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SPEC = """\
system: shop
repos:
  app: {source: ./app, build: {steps: [{name: noop, run: "true"}]}, outputs: ["x"]}
services:
  web: {artifact: app, run: "python3 server.py", health: {path: /healthz}}
environments:
  prod:
    regions:
      r1: {zones: [a]}
      r2: {zones: [a]}
"""


def ferryman(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "ferryman"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_traffic_reports_each_version_of_every_region(tmp_path: Path) -> None:
    async with LocalPlatform(tmp_path, environment="prod") as platform:
        await asyncio.gather(
            platform.deploy("r1", "a", "v1"),
            platform.deploy("r1", "a", "v2"),
            platform.deploy("r2", "a", "v1"),
        )
        await platform.route("r1", RouteTable(service="web", weights={"v1": 50, "v2": 50}))
        await platform.route("r2", RouteTable(service="web", weights={"v1": 100}))
        (tmp_path / "ferryman.yaml").write_text(SPEC)
        args = ("--agent-url", platform.agent.url, "--rps", "200", "--requests", "400")
        done = await asyncio.to_thread(ferryman, "traffic", "--env", "prod", *args, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        going, total = done.stdout.split("total", 1)
        summary = next(line for line in total.splitlines() if "requests in" in line)
        assert summary.startswith("400 requests in ")
        assert "errors 0 (0.00%): 5xx 0, unexpected 4xx 0, no answer 0;" in summary
        # Requests alternate between r1 (v1 50 %, v2 50 %) and r2 (v1 100 %).
        shares = {
            line.split()[0]: int(line.split()[1])
            for line in total.splitlines()
            if line.split()[:1] in (["v1"], ["v2"])
        }
        assert shares == {"v1": 300, "v2": 100}
        # Paced at 200/s, 400 requests take two seconds: reported as it goes, every second.
        assert re.search(r"^\[\s*\d+\.\ds\] \d+ requests in ", going, re.MULTILINE), going

        only = await asyncio.to_thread(
            ferryman,
            "traffic",
            *("--env", "prod", "--region", "r2", *args[:2], "--requests", "20"),
            cwd=tmp_path,
        )
        assert only.returncode == 0, only.stderr
        only_total = only.stdout.split("total", 1)[1]
        assert only_total.splitlines()[1].startswith("20 requests in ")
        assert "v2" not in only_total

        # A path the service does not serve answers 404: every request is an error, a 4xx.
        lost = await asyncio.to_thread(
            ferryman,
            "traffic",
            *("--env", "prod", "--region", "r2", *args[:2], "--requests", "10"),
            *("--path", "/missing"),
            cwd=tmp_path,
        )
        assert lost.returncode == 1
        lost_total = lost.stdout.split("total", 1)[1]
        assert "10 requests in " in lost_total
        assert "errors 10 (100.00%): 5xx 0, unexpected 4xx 10, no answer 0;" in lost_total

        bad = await asyncio.to_thread(ferryman, "traffic", "--region", "r9", *args, cwd=tmp_path)
        assert bad.returncode == 1
        assert bad.stderr.strip() == "error: no router for region r9 (routers: none yet)"
        outside = await asyncio.to_thread(
            ferryman, "traffic", "--env", "prod", "--region", "r9", *args, cwd=tmp_path
        )
        assert outside.returncode == 1
        assert outside.stderr.strip() == "error: region r9 is not part of the environment"

        no_env = await asyncio.to_thread(ferryman, "traffic", "--env", "qa", *args, cwd=tmp_path)
        assert no_env.returncode == 1
        assert "environment 'qa' is not in ferryman.yaml (environments: prod)" in no_env.stderr
