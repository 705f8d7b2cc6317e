"""Chaos: releases to three regions under seeded faults; the world ends where it must.

``pytest tests/chaos`` runs one fresh seed (``make test`` includes it);
``make chaos`` runs ``$FERRYMAN_CHAOS_RUNS`` (30) and
``FERRYMAN_CHAOS_SEED=N make chaos`` replays seed N. What a seed injects and
what is checked afterwards: ``harness.py`` and ``docs/chaos.md``.
"""

from __future__ import annotations

import pytest

from .conftest import chaos_seeds
from .harness import ChaosWorld, replay_hint, run_seed

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]


@pytest.mark.parametrize("seed", chaos_seeds(), ids=lambda seed: f"seed={seed}")
async def test_a_release_under_chaos_ends_where_it_must(chaos_world: ChaosWorld, seed: int) -> None:
    report = await run_seed(chaos_world, seed)
    assert not report.violations, (
        f"chaos seed={seed} broke {len(report.violations)} invariants "
        f"(replay: {replay_hint(seed)}):\n" + "\n".join(report.violations)
    )
