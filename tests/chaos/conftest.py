"""The chaos suite's world: a Temporal server on a SQLite file, the agent, a worker, v1 everywhere.

One world serves every seed of a module: each run releases the next version
from whatever the last one left (so a run starts from a world a chaotic run
left behind, as production would).
"""

from __future__ import annotations

import os
import random
from collections.abc import AsyncIterator

import pytest
from temporalio.client import Client

from ferryman.demo import prepare_example
from ferryman.temporal.converter import DATA_CONVERTER
from ferryman.testing import AgentProcess, TemporalDevServer

from ..integration.conftest import EXAMPLES
from .harness import REPORTS, ChaosWorld, summary

RUNS_VAR = "FERRYMAN_CHAOS_RUNS"
SEED_VAR = "FERRYMAN_CHAOS_SEED"


def chaos_seeds() -> list[int]:
    """``$FERRYMAN_CHAOS_SEED`` (comma-separated), else ``$FERRYMAN_CHAOS_RUNS`` fresh seeds (1)."""
    if chosen := os.environ.get(SEED_VAR, "").strip():
        return [int(seed) for seed in chosen.split(",") if seed.strip()]
    runs = int(os.environ.get(RUNS_VAR, "1") or "1")
    draw = random.SystemRandom()
    return [draw.randrange(1, 1_000_000) for _ in range(runs)]


@pytest.fixture(scope="module")
async def chaos_world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ChaosWorld]:
    """The world of a module's chaos runs, with v1 released everywhere without a fault."""
    root = tmp_path_factory.mktemp("chaos")
    server = TemporalDevServer(log_dir=root / "temporal", db_file=root / "temporal.db")
    server.log_dir.mkdir()
    server.start()
    agent = AgentProcess(state_dir=root / "agent").start()
    spec = prepare_example(EXAMPLES / "hello", root / "hello")
    chaos = ChaosWorld(server, agent, spec, root / "logs")
    try:
        chaos.client = await Client.connect(server.address, data_converter=DATA_CONVERTER)
        await chaos.baseline()
        yield chaos
    finally:
        chaos.stop()
        agent.stop()
        server.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The chaos runs of the session: runs, faults per kind, seeds, violations."""
    lines = summary(REPORTS)
    if lines:
        terminalreporter.section("chaos")
        for line in lines:
            terminalreporter.write_line(line)
