"""What a new user trips over, through the CLI against one real dev stack (issue 16).

The stack is started from one directory with no ``FERRYMAN_HOME``, as a user
would, so every command finds it through the per-user state home; commands then
run from other directories. Each test releases its own environment.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ferryman.demo import prepare_example
from ferryman.devstack.processes import pid_alive
from ferryman.testing import free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FERRYMAN = str(Path(sys.executable).parent / "ferryman")


@dataclass
class User:
    """A user's shell: a home of their own, no FERRYMAN_HOME, any current directory."""

    home: Path
    work: Path

    @property
    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("FERRYMAN_") and k != "XDG_STATE_HOME"
        }
        return {**env, "HOME": str(self.home), "COLUMNS": "200"}

    @property
    def state(self) -> Path:
        return self.home / ".local" / "state" / "ferryman"

    def dir(self, name: str) -> Path:
        path = self.work / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def __call__(
        self, *args: str, cwd: Path | None = None, timeout: float = 240
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [FERRYMAN, *args],
            cwd=cwd or self.dir("elsewhere"),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def until(
        self, what: str, args: tuple[str, ...], ok: Callable[[str], bool], within: float = 120
    ) -> str:
        """Run ``args`` until its output satisfies ``ok``; fail loudly at the deadline."""
        deadline = time.monotonic() + within
        while True:
            out = self(*args).stdout
            if ok(out):
                return out
            assert time.monotonic() < deadline, f"never {what}; last output:\n{out}"
            time.sleep(0.5)


@pytest.fixture(scope="module")
def user(tmp_path_factory: pytest.TempPathFactory) -> Iterator[User]:
    root = tmp_path_factory.mktemp("friction")
    person = User(home=root / "user", work=root / "work")
    person.home.mkdir()
    ports = [
        "--temporal-port", str(free_port()), "--ui-port", str(free_port()),
        "--agent-port", str(free_port()), "--router-base-port", str(free_port()),
    ]  # fmt: skip
    up = person("dev", "--detach", *ports, cwd=person.dir("started-here"))
    assert up.returncode == 0, up.stdout + up.stderr
    pids = json.loads((person.state / "dev.json").read_text())["pids"]
    try:
        yield person
    finally:
        down = person("down", cwd=person.dir("somewhere-else"))
        assert down.returncode == 0 and "dev stack stopped" in down.stdout, down.stdout
        assert not any(pid_alive(pid) for pid in pids.values())
        again = person("down", cwd=person.dir("somewhere-else"))
        assert again.returncode == 0
        assert f"no dev stack is recorded in {person.state / 'dev.json'}" in again.stdout


def hello(
    user: User, name: str, edit: Callable[[str], str] = lambda text: text, env: str = "dev"
) -> Path:
    """The hello example in its own directory (its app a git repository), spec edited."""
    spec = prepare_example(EXAMPLES / "hello", user.dir("specs") / name)
    spec.write_text(edit(spec.read_text()).replace("\n  dev:\n", f"\n  {env}:\n"))
    return spec.parent


def test_every_command_finds_the_stack_from_any_directory(user: User) -> None:
    project = hello(user, "hello")
    released = user("release", "hello", "--env", "dev", cwd=project.parent)  # a directory
    assert released.returncode == 0, released.stdout + released.stderr
    lines = released.stdout.splitlines()
    assert any(line.strip().endswith("release complete") for line in lines), released.stdout
    assert any(line.startswith("local-1: http://127.0.0.1:") for line in lines), "not glued"

    logs = user("logs", "release/hello/dev/1", "--step", "test")
    assert logs.returncode == 0 and "Ran 2 tests" in logs.stdout, logs.stderr
    newest = user("logs")
    assert newest.stdout.startswith("logs of release/hello/dev/1"), newest.stdout[:200]
    builds = user("builds")
    assert "release/hello/dev/1/build" in builds.stdout, builds.stdout
    provenance = user("provenance", "hello")
    assert provenance.returncode == 0 and str(project / "app") in provenance.stdout

    again = user("release", str(project), "--env", "dev")  # nothing changed: all from cache
    assert again.returncode == 0 and "cached" in again.stdout, again.stdout
    cached = user("logs", "release/hello/dev/2", "--step", "test")
    assert cached.returncode == 0, cached.stderr
    assert "(cache hit: built by release/hello/dev/1)" in cached.stdout
    assert "Ran 2 tests" in cached.stdout


def test_a_held_promotion_says_what_it_waits_for_and_who_promoted(user: User) -> None:
    held = hello(
        user,
        "held",
        lambda text: text.replace(
            "    replicas: 2\n",
            "    replicas: 1\n    strategy:\n"
            "      blue-green: {auto-promote: false, scale-down-delay-seconds: 0}\n",
        ),
        env="dev-held",
    )
    first = user("release", str(held), "--env", "dev-held", "--version", "v1", "--detach")
    assert first.returncode == 0, first.stderr
    release = "release/hello/dev-held/1"
    waiting = user.until(
        "waiting for promotion", ("status", release), lambda out: "waiting for promotion" in out
    )
    assert f"ferryman promote {release} --region local-1" in waiting
    promoted = user("promote", release, "--by", "alice", "--reason", "checked")
    assert promoted.returncode == 0, promoted.stderr
    done = user.until("done", ("status", release), lambda out: "phase done" in out)
    assert "local-1 promoted by alice: checked" in done
    assert "≠" not in done

    no_reason = user("rollback", release)
    assert no_reason.returncode == 2 and "--reason" in no_reason.stderr

    second = user("release", str(held), "--env", "dev-held", "--version", "v2", "--detach")
    assert second.returncode == 0
    user.until(
        "v2 waiting",
        ("status", "release/hello/dev-held/2"),
        lambda out: "waiting for promotion" in out,
    )
    user("promote", "release/hello/dev-held/2")
    user.until("v2 done", ("status", "release/hello/dev-held/2"), lambda out: "phase done" in out)

    stale = user("status", release).stdout
    assert "what the platform serves now" in stale
    assert "local-1/web: the platform routes v2 100%, this release recorded v1 100%" in stale


def test_failures_are_printed_once_and_point_at_their_cause(user: User) -> None:
    failing = hello(
        user,
        "failing",
        lambda text: text.replace("test_server.py", "test_server.py; false"),
        env="dev-failing",
    )
    failed = user("release", str(failing), "--env", "dev-failing")
    assert failed.returncode == 1
    both = failed.stdout + failed.stderr
    assert both.count("step 'test' exited with code 1") == 1, both
    assert "hello failed: hello:" not in both

    broken = hello(
        user,
        "broken",
        lambda text: text.replace(
            "run: python3 dist/server.py", "run: 'echo boom: config missing >&2; exit 3'"
        ).replace("timeout-seconds: 20", "timeout-seconds: 3"),
        env="dev-broken",
    )
    unhealthy = user("release", str(broken), "--env", "dev-broken")
    assert unhealthy.returncode == 1
    assert "log of web-" in unhealthy.stderr and "| boom: config missing" in unhealthy.stderr


def _flip_a_blob(user: User, digest: str) -> None:
    store = user.state / "artifacts"
    manifest = json.loads((store / "bundles" / f"{digest[7:]}.json").read_text())
    blob = store / "blobs" / "sha256" / next(iter(manifest["files"].values()))["digest"][7:]
    data = bytearray(blob.read_bytes())
    data[0] ^= 1
    blob.chmod(0o644)
    blob.write_bytes(bytes(data))


def test_a_rebuild_repairs_a_corrupt_blob_and_the_newest_build_is_the_provenance(
    user: User,
) -> None:
    first = hello(user, "repair")
    assert user("build", str(first)).returncode == 0
    digest = json.loads(user("provenance", "hello", "--json").stdout)["subject"][0]["digest"]
    digest = "sha256:" + digest["sha256"]
    _flip_a_blob(user, digest)
    assert user("verify", "hello").returncode == 1

    rebuilt = user("build", str(first))
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    verified = user("verify", "hello")
    assert verified.returncode == 0, verified.stdout + verified.stderr

    second = hello(user, "repair-elsewhere")
    assert user("build", str(second), "--no-cache").returncode == 0
    newest = user("provenance", digest)
    assert str(second / "app") in newest.stdout and str(first / "app") not in newest.stdout
    every = user("provenance", digest, "--all").stdout
    assert every.index(str(second / "app")) < every.index(str(first / "app"))


CI_SPEC = """\
system: ci
repos:
  site:
    source: ./site
    build: {steps: [{run: mkdir -p dist && cp index.html dist/}]}
    outputs: [dist/**]
  tests:                      # no outputs: it only tests
    source: ./tests
    build:
      steps:
        - run: while [ ! -e "$GATE" ]; do sleep 0.1; done
          env: {GATE: "GATE_PATH"}
services:
  web:
    artifact: site
    run: python3 -m http.server "$PORT" --directory dist
    health: {path: /index.html}
environments:
  dev-ci:
    regions:
      local-1: {zones: [a]}
"""


def test_cache_hits_show_as_cached_while_a_release_builds(user: User) -> None:
    from ferryman.cli.live import poll
    from ferryman.temporal.client.connection import Connection, connect

    root = user.dir("specs") / "ci"
    gate = root / "gate"
    for repo in ("site", "tests"):
        (root / repo).mkdir(parents=True)
    (root / "site" / "index.html").write_text("hello\n")
    (root / "tests" / "check.txt").write_text("v1\n")
    (root / "ferryman.yaml").write_text(CI_SPEC.replace("GATE_PATH", str(gate)))
    gate.touch()
    assert user("build", str(root)).returncode == 0
    assert "tests has no outputs" in user("provenance", "tests").stderr

    gate.unlink()
    (root / "tests" / "check.txt").write_text("v2\n")  # tests must build again, site is cached
    started = user("release", str(root), "--env", "dev-ci", "--detach")
    assert started.returncode == 0, started.stderr
    release = "release/ci/dev-ci/1"
    info = json.loads((user.state / "dev.json").read_text())

    async def watch() -> dict[str, str]:
        client = await connect(Connection(info["temporal_address"]), wait_s=10)
        deadline = time.monotonic() + 120
        while True:
            progress, _, _ = await poll(client, release)
            nodes = dict(progress.nodes) if progress else {}
            if nodes.get("tests") == "running" and nodes.get("site") != "running":
                return nodes
            assert time.monotonic() < deadline, f"the build never ran tests alone: {nodes}"
            await asyncio.sleep(0.2)

    nodes = asyncio.run(watch())
    assert nodes["site"] == "cached"
    gate.touch()
    done = user.until("done", ("status", release), lambda out: "phase done" in out)
    assert "site" in done and "cached" in done
    shutil.rmtree(root)
