"""``ferryman traffic`` to a region of several services: the load reaches each, none is a 404."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from ferryman.platform.models import RouteTable
from ferryman.testing.platform import LocalPlatform

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def ferryman(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "ferryman"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200", "HOME": str(cwd)},
        check=False,
    )


def totals(stdout: str) -> dict[str, str]:
    """Section title ("total catalog") → its summary line."""
    sections: dict[str, str] = {}
    title = ""
    for line in stdout.splitlines():
        if "total" in line and "─" in line:
            title = line.strip("─ ").strip()
        elif title and "requests in" in line:
            sections[title] = line
    return sections


async def test_without_service_the_load_is_spread_over_the_region_services(
    tmp_path: Path,
) -> None:
    async with LocalPlatform(tmp_path, environment="staging") as platform:
        await asyncio.gather(
            platform.deploy("eu-west", "a", "c1", service="catalog"),
            platform.deploy("eu-west", "a", "k1", service="checkout"),
        )
        await platform.route("eu-west", RouteTable(service="catalog", weights={"c1": 100}))
        await platform.route("eu-west", RouteTable(service="checkout", weights={"k1": 100}))
        workdir = tmp_path / "anywhere"  # no ferryman.yaml here: the agent knows the regions
        workdir.mkdir()
        args = ("--agent-url", platform.agent.url, "--rps", "100", "--duration", "1.5")

        done = await asyncio.to_thread(ferryman, "traffic", "--env", "staging", *args, cwd=workdir)

        assert done.returncode == 0, done.stdout + done.stderr
        assert "over catalog, checkout (Host header each)" in done.stdout
        sections = totals(done.stdout)
        assert set(sections) == {"total catalog", "total checkout"}, done.stdout
        for summary in sections.values():
            assert int(summary.split()[0]) > 0 and "errors 0 (0.00%)" in summary
        catalog = done.stdout.split("total catalog", 1)[1].split("total checkout", 1)[0]
        assert " c1 " in catalog and " k1 " not in catalog
        assert " - " not in done.stdout, "no answer came from the router itself (404)"

        one = await asyncio.to_thread(
            ferryman, "traffic", "--env", "staging", "--service", "checkout", *args, cwd=workdir
        )
        assert one.returncode == 0 and set(totals(one.stdout)) == {"total"}
        assert " k1 " in one.stdout and " c1 " not in one.stdout

        wrong = await asyncio.to_thread(
            ferryman, "traffic", "--env", "staging", "--service", "cart", *args, cwd=workdir
        )
        assert "came from the router itself" in wrong.stdout, wrong.stdout

        empty = await asyncio.to_thread(ferryman, "traffic", "--env", "qa", *args, cwd=workdir)
        assert empty.returncode == 1
        assert empty.stderr.strip() == (
            f"error: environment 'qa' has no router on the agent at {platform.agent.url} "
            "(release to it)"
        )
