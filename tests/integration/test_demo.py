"""``make demo``, shortened, end to end: the story runs, and its summary holds against ground truth.

The demo runs as a person runs it (``python -m ferryman.demo examples``), with
short bakes and analysis looks, free ports, a private home, and
``DEMO_KEEP=1`` so that its stack stays up after the summary. The test then
checks the summary's claims against what it can see for itself: real
requests through every production router, the agent's instances and event
log, the build history. Ctrl-C (SIGINT) must then stop every process.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from ferryman.devstack.processes import pid_alive
from ferryman.providers.local import LocalProvider

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
READY = "press Ctrl-C to stop it"
SHORT = {
    "DEMO_FREE_PORTS": "1",
    "DEMO_KEEP": "1",
    "DEMO_BAKE": "1s",
    "DEMO_ANALYSIS_INTERVAL": "1",
    "DEMO_MARGIN": "0.2",
}


class Output:
    """The demo's output, read on a thread as it comes."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert process.stdout is not None
        self._thread = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        self._thread.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, needle: str, process: subprocess.Popen[str], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while needle not in self.text:
            tail = "\n".join(self.lines[-60:])
            assert process.poll() is None, f"the demo exited {process.returncode}:\n{tail}"
            assert time.monotonic() < deadline, f"no {needle!r} after {timeout_s:g}s:\n{tail}"
            time.sleep(0.5)


def answers(url: str, service: str, users: int = 60) -> set[tuple[int, str]]:
    """(status, version) of ``users`` different users' requests to ``service``."""
    found = set()
    with httpx.Client(timeout=10) as http:
        for user in range(users):
            reply = http.get(url, headers={"Host": service, "X-User-Id": f"test-{user}"})
            found.add((reply.status_code, reply.headers.get("X-Ferryman-Version", "-")))
    return found


def _ctrl_c_reaches_it() -> None:
    """Ctrl-C stops the demo even when this suite runs as a background job.

    A non-interactive shell starts its background jobs with SIGINT ignored, and
    a Python started that way keeps ignoring it: the SIGINT sent below would
    then never reach the demo.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_the_demo_tells_every_level_and_its_numbers_hold(tmp_path: Path) -> None:
    home = tmp_path / "home"
    summary = tmp_path / "summary.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FERRYMAN_", "DEMO_"))}
    env.update(SHORT, FERRYMAN_HOME=str(home), DEMO_SUMMARY_JSON=str(summary))
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "ferryman.demo", str(EXAMPLES)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        preexec_fn=_ctrl_c_reaches_it,
    )
    output = Output(process)
    pids: dict[str, int] = {}
    try:
        output.wait_for(READY, process, timeout_s=600)
        told_s = time.monotonic() - started
        print(f"\n{output.text}\n\nthe shortened demo told its story in {told_s:.0f}s")
        stack = json.loads((home / "demo" / "dev.json").read_text())
        pids = stack["pids"]
        found = json.loads(summary.read_text())
        check_summary_table(output.text)
        check_against_ground_truth(found, stack["agent_url"])
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        code = process.wait(timeout=120)
    assert code == 0, output.text[-3000:]
    assert "every process of the dev stack is down" in output.text
    assert pids and not [name for name, pid in pids.items() if pid_alive(pid)]


def check_summary_table(text: str) -> None:
    for level in (
        "0 build a repo",
        "1 deploy a service",
        "2 DAG build",
        "3 blue-green",
        "4 approval gate",
        "5 zones",
        "6 waves + saga",
        "7 canary",
    ):
        assert level in text, f"no row for level {level}"
    assert "Temporal Web UI  http://127.0.0.1:" in text
    assert "ferryman approve release/shop/prod/1 --gate go-live --input ticket=CHG-1234" in text
    assert "/releases/release/shop/prod/1" in text, "the dashboard URL a person would use"


def check_against_ground_truth(found: dict[str, Any], agent_url: str) -> None:
    build, releases, rollback = found["build"], found["releases"], found["rollback"]
    # Levels 0 and 2: a cold build of every node, then releases' builds from the cache.
    assert (build["nodes"], build["built"], build["cached"]) == (6, 6, 0)
    assert build["lib_steps"] == ["test", "package"] and build["provenance_problems"] == []
    assert (releases["first"]["cached"], releases["first"]["built"]) == (6, 0)
    assert releases["bad"]["built"] == 4, "catalog and checkout changed, lib and ui cached"
    # Levels 1 and 4: the first release started 2 services × 2 replicas × 9 zones, approved.
    assert releases["first"]["instances_started"] == 36
    assert releases["first"]["approved_by"] == "demo-approver"
    assert releases["good"]["status"] == "succeeded" and releases["bad"]["status"] == "failed"

    # Every region ends on the good version, as real requests through its router see it.
    good = found["good_versions"]
    provider = LocalProvider(agent_url, environment="prod")
    routers = asyncio.run(provider.routers())
    assert set(routers) == {"us-east", "eu-west", "ap-south"}
    for region, url in routers.items():
        for service in ("catalog", "checkout"):
            assert answers(url, service) == {(200, good[service])}, f"{region} {service}"
    running = [i for i in asyncio.run(provider.instances()) if i.state != "stopped"]
    assert not [i for i in running if i.version.startswith(rollback["bad_version"])]

    # Levels 6 and 7: caught in eu-west by the analysis, both touched regions put back.
    assert rollback["caught_in"] == "eu-west" and "error" in rollback["reason"]
    assert rollback["restored"] == ["eu-west", "us-east"]
    assert list(rollback["region_back_ms"]) == ["eu-west", "us-east"]
    assert 0 <= rollback["routes_back_ms"] < 30_000
    # The bad version hurt few: its failures are a small share of every request sent,
    # and where it fails it met only about the canary's share of users before the verdict.
    assert 0 < rollback["bad_failed"] <= 0.05 * found["requests"]
    judged = rollback["caught_region_answered"] / max(rollback["caught_region_requests"], 1)
    assert 0 < judged <= 0.25 + 0.15, f"canary share in eu-west while judged: {judged:.0%}"
    assert found["failed"] == rollback["bad_failed"], "nothing failed but the bad version"
    # Level 3: catalog's blue-green switch left no long skew in any region.
    assert all(0 <= ms < 1000 for ms in found["rollout"]["skew_ms"].values())
    assert found["rollout"]["failed"] == 0
