"""Level 6 through the real CLI on a dev stack: pause, resume, abort, the queue, the world table.

The hello example gets environments of three one-zone regions, one per wave,
with a bake after each wave long enough to act in. Every refusal is one line
on stderr with a non-zero exit; the world as ``ferryman status`` shows it is
checked against what the routers answer.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ferryman.demo import prepare_example
from ferryman.providers.local import LocalProvider
from ferryman.testing import free_port

from .release_helpers import served

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FERRYMAN = [sys.executable, "-m", "ferryman"]
BAKE_S = 20


def world(env: str) -> str:
    """An environment of three one-zone regions, one wave each, baking ``BAKE_S``."""
    return (
        f"  {env}:\n"
        "    platform: local\n"
        "    regions:\n"
        "      us-east: {zones: [a]}\n"
        "      eu-west: {zones: [a]}\n"
        "      ap-south: {zones: [a]}\n"
        "    rollout:\n"
        "      waves: [[us-east], [eu-west], [ap-south]]\n"
        f"      bake: {BAKE_S}s\n"
    )


@dataclass
class Stack:
    """CLI calls against one dev stack with a private home and free ports."""

    env: dict[str, str]
    spec: Path

    def __call__(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*FERRYMAN, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def until(self, what: str, release: str, ok: Callable[[str], bool], within: float = 120) -> str:
        """``ferryman status RELEASE`` until its output satisfies ``ok``; fails at the deadline."""
        deadline = time.monotonic() + within
        while True:
            out = self("status", release).stdout
            if ok(out):
                return out
            assert time.monotonic() < deadline, f"{release} never {what}; last output:\n{out}"
            time.sleep(0.3)

    def routers(self, environment: str) -> dict[str, str]:
        """Each region's router URL in ``environment``, asked of the stack's agent."""
        home = Path(self.env["FERRYMAN_HOME"])
        agent = json.loads((home / "dev.json").read_text())["agent_url"]
        provider = LocalProvider(agent, environment=environment)
        return asyncio.run(provider.routers())

    def refused(self, *args: str) -> str:
        """Run a command that must be refused: one line on stderr, a non-zero exit."""
        answer = self(*args)
        lines = answer.stderr.strip().splitlines()
        assert answer.returncode != 0, f"{args} was not refused: {answer.stdout}"
        assert len(lines) == 1 and lines[0].startswith("error: "), answer.stderr
        return lines[0]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("rollout-cli")
    spec = prepare_example(EXAMPLES / "hello", root / "hello")
    text = spec.read_text().replace("    replicas: 2\n", "    replicas: 1\n")
    spec.write_text(text + world("world") + world("queue"))
    home = root / "home"
    home.mkdir()
    env = {**os.environ, "FERRYMAN_HOME": str(home), "COLUMNS": "200"}
    cli = Stack(env, spec)
    ports = [
        "--temporal-port", str(free_port()), "--ui-port", str(free_port()),
        "--agent-port", str(free_port()), "--router-base-port", str(free_port()),
        "--server-port", str(free_port()),
    ]  # fmt: skip
    up = cli("dev", "--detach", *ports)
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        yield cli
    finally:
        cli("down")


def row(status: str, region: str) -> list[str]:
    """The world table's row of ``region`` (its words), from ``ferryman status RELEASE``."""
    for line in status.splitlines():
        words = line.split()
        if region in words[:2] and ("%" in line or "-" in words):
            return words[words.index(region) :]
    raise AssertionError(f"no row for {region} in:\n{status}")


def test_pause_resume_and_abort_through_the_cli(stack: Stack) -> None:
    release = "release/hello/world/1"
    started = stack("release", str(stack.spec), "--env", "world", "--version", "v1", "--detach")
    assert started.returncode == 0 and release in started.stdout, started.stderr
    baking = stack.until("baked wave 1", release, lambda out: "phase bake" in out)
    assert "waiting for wave 1's bake to end" in baking and "then wave 2" in baking
    assert row(baking, "us-east")[:4] == ["us-east", "switched", "v1", "v1"]
    assert " left" in next(ln for ln in baking.splitlines() if "us-east" in ln)

    assert stack.refused("resume", release) == (
        f"error: resume refused: {release} is not paused (phase bake)"
    )
    paused = stack("pause", release, "--reason", "watching p99", "--by", "ivy")
    assert paused.returncode == 0, paused.stderr
    assert "pausing after the current step (asked by ivy)" in paused.stdout
    assert stack.refused("pause", release, "--reason", "again") == (
        f"error: pause refused: {release} is already paused"
    )
    held = stack.until("paused", release, lambda out: "phase paused" in out, BAKE_S + 60)
    assert "waiting for a person: paused by ivy (watching p99)" in held
    assert f"ferryman resume {release}" in held
    assert row(held, "eu-west")[:2] == ["eu-west", "pending"], "nothing moves while paused"

    resumed = stack("resume", release, "--reason", "p99 fine", "--by", "jo")
    assert resumed.returncode == 0 and "resumed by jo" in resumed.stdout, resumed.stderr
    second = stack.until(
        "baked wave 2",
        release,
        lambda out: "phase bake" in out and "waiting for wave 2's bake" in out,
    )
    assert row(second, "eu-west")[:4] == ["eu-west", "switched", "v1", "v1"]

    aborted = stack("abort", release, "--reason", "fixing forward", "--by", "lee")
    assert aborted.returncode == 0, aborted.stderr
    assert f"{release}: aborted (asked by lee)" in aborted.stdout
    for action in ("abort", "pause", "resume"):
        line = stack.refused(action, release, "--reason", "late")
        assert line.startswith(f"error: {action} refused: ") and release in line, line
    final = stack("status", release).stdout
    assert "phase aborted" in final and "aborted by lee: fixing forward" in final
    assert row(final, "ap-south")[:2] == ["ap-south", "pending"], "the last wave never started"
    for region in ("us-east", "eu-west"):
        assert row(final, region)[:4] == [region, "live", "v1", "v1"]
    routers = stack.routers("world")
    assert set(routers) == {"us-east", "eu-west"}, "ap-south never got a router"
    for url in routers.values():
        assert {a["version"] for a in served(url)} == {"v1"}
    nobody = stack.refused("pause", "release/hello/world/99", "--reason", "x")
    assert "no running release 'release/hello/world/99'" in nobody


def test_a_second_release_is_queued_and_a_no_queue_one_refused(stack: Stack) -> None:
    first, second = "release/hello/queue/1", "release/hello/queue/2"
    started = stack("release", str(stack.spec), "--env", "queue", "--version", "v1", "--detach")
    assert started.returncode == 0, started.stderr
    stack.until("baked wave 1", first, lambda out: "phase bake" in out)
    queued = stack("release", str(stack.spec), "--env", "queue", "--version", "v2", "--detach")
    assert queued.returncode == 0 and second in queued.stdout, queued.stderr
    waiting = stack.until("queued", second, lambda out: "phase queued" in out)
    assert "waiting for another release of hello to queue to finish" in waiting

    listing = stack("status").stdout
    line = next(ln for ln in listing.splitlines() if second in ln)
    assert "queued" in line.split(), listing

    refused = stack("release", str(stack.spec), "--env", "queue", "--version", "v3", "--no-queue")
    assert refused.returncode == 1
    assert f"queue is busy with {first}; not queued (--no-queue)" in refused.stderr

    aborted = stack("abort", second, "--reason", "superseded", "--by", "pat")
    assert aborted.returncode == 0 and "aborted (asked by pat)" in aborted.stdout, aborted.stderr
    status = stack("status", second).stdout
    assert "phase aborted" in status
    for url in stack.routers("queue").values():
        assert {a["version"] for a in served(url)} == {"v1"}, "the aborted release switched nothing"
    stack("abort", first, "--reason", "done here")
