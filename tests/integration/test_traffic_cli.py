"""``ferryman traffic`` as a user runs it: real routers, real instances, a real subprocess."""

from __future__ import annotations

import asyncio
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
        args = ("--agent-url", platform.agent.url, "--rps", "200", "--duration", "2")
        done = await asyncio.to_thread(ferryman, "traffic", "--env", "prod", *args, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        total = done.stdout.split("total", 1)[1].splitlines()
        summary = next(line for line in total if "requests in" in line)
        sent = int(summary.split()[0])
        assert 100 <= sent <= 400 and "errors 0 (0.00%)" in summary
        v1 = next(line for line in total if line.split()[:1] == ["v1"])
        v2 = next(line for line in total if line.split()[:1] == ["v2"])
        assert int(v1.split()[1]) == pytest.approx(0.75 * sent, abs=3)
        assert int(v2.split()[1]) == pytest.approx(0.25 * sent, abs=3)
        assert "[  1.0s]" in done.stdout  # reported as it goes

        only = await asyncio.to_thread(
            ferryman,
            "traffic",
            *("--env", "prod", "--region", "r2", *args[:2], "--duration", "0.5"),
            cwd=tmp_path,
        )
        assert only.returncode == 0 and "v2" not in only.stdout.split("total", 1)[1]

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
