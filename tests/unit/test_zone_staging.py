"""A zone router's side of a two-phase switch (providers.local.staging), without sockets.

The router is built but never started: staging, committing and aborting only
change which table it routes by, which is what these check.
"""

from __future__ import annotations

import time

import pytest

from ferryman.platform.models import RouteTable
from ferryman.platform.twophase import TwoPhaseError
from ferryman.providers.local.router import Router
from ferryman.providers.local.staging import Staging


def tables(version: str) -> dict[str, RouteTable]:
    return {"web": RouteTable(service="web", weights={version: 100})}


def zone_router(generation: int = 6) -> tuple[Router, Staging]:
    router = Router("test", "eu-1@a", "127.0.0.1", 0)
    router.zone = "a"
    router.activate(router.table.replace(generation, tables("v1")))
    return router, Staging(router)


def serves(router: Router) -> tuple[int, set[str]]:
    chooser = router.table.services["web"]
    return router.table.generation, set(chooser.table.weights)


async def test_stage_changes_nothing_until_the_commit() -> None:
    router, staging = zone_router()
    assert staging.stage(7, tables("v2")) == {"staged": 7}
    assert serves(router) == (6, {"v1"}), "a staged table routes nothing"
    assert staging.state().staged == 7
    answer = await staging.commit(7, None)
    assert answer["generation"] == 7 and answer["activated"] is not None and not answer["late"]
    assert serves(router) == (7, {"v2"}) and router.staged is None


async def test_a_duplicate_commit_is_a_no_op() -> None:
    router, staging = zone_router()
    staging.stage(7, tables("v2"))
    await staging.commit(7, None)
    again = await staging.commit(7, None)
    assert again == {"generation": 7, "activated": None, "late": False}
    assert serves(router) == (7, {"v2"})


async def test_a_repeated_stage_keeps_the_staged_table() -> None:
    router, staging = zone_router()
    staging.stage(7, tables("v2"))
    held = router.staged
    assert staging.stage(7, tables("v2")) == {"staged": 7}
    assert router.staged is held


async def test_a_commit_for_a_generation_never_staged_is_refused() -> None:
    router, staging = zone_router()
    with pytest.raises(TwoPhaseError, match=r"generation 7 is not staged here \(holding nothing\)"):
        await staging.commit(7, None)
    assert serves(router) == (6, {"v1"})


async def test_a_zone_that_missed_the_commit_is_forced_by_a_whole_push() -> None:
    # The agent's retry pushes the committed routing whole to a router that lost its staged
    # copy (restarted); the commit repeated after that is a no-op, never a second switch.
    router, staging = zone_router()
    staging.stage(7, tables("v2"))
    router.staged = None  # the router came back without what it had staged
    router.activate(router.table.replace(7, tables("v2")))
    assert (await staging.commit(7, None))["activated"] is None
    assert serves(router) == (7, {"v2"})


async def test_a_commit_at_an_instant_waits_for_it() -> None:
    router, staging = zone_router()
    staging.stage(7, tables("v2"))
    at = time.time() + 0.05
    answer = await staging.commit(7, at)
    assert answer["activated"] >= at and not answer["late"]
    staging.stage(8, tables("v3"))
    late = await staging.commit(8, time.time() - 1)
    assert late["late"] and serves(router) == (8, {"v3"})


async def test_abort_drops_the_staged_table_and_a_committed_one_cannot_be_aborted() -> None:
    router, staging = zone_router()
    staging.stage(7, tables("v2"))
    assert staging.abort(7) == {"staged": None}
    assert router.staged is None and serves(router) == (6, {"v1"})
    with pytest.raises(TwoPhaseError, match="generation 6 is active here"):
        staging.abort(6)


async def test_a_stale_generation_and_a_refusing_zone_are_refused() -> None:
    _, staging = zone_router()
    with pytest.raises(TwoPhaseError, match="not newer than the active generation 6"):
        staging.stage(6, tables("v2"))
    await staging.handle({"op": "fault", "refuse": "disk full"})
    with pytest.raises(TwoPhaseError, match="zone a refuses to stage: disk full"):
        await staging.handle({"op": "stage", "generation": 7, "tables": {}})
    await staging.handle({"op": "fault"})
    answer = await staging.handle(
        {"op": "stage", "generation": 7, "tables": {"web": tables("v2")["web"].model_dump()}}
    )
    assert answer == {"staged": 7}
