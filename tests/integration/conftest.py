"""Fixtures for integration tests: the real local agent and a copy of the hello example."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ferryman.demo import prepare_example
from ferryman.testing import AgentProcess

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[AgentProcess]:
    """The local platform agent as its own process; stopped (with its instances) afterwards."""
    process = AgentProcess(state_dir=tmp_path / "agent").start()
    yield process
    process.stop()


@pytest.fixture
def hello_spec(tmp_path: Path) -> Path:
    """The hello example copied to a temp dir, its app committed as a real git repository."""
    return prepare_example(EXAMPLES / "hello", tmp_path / "hello")
