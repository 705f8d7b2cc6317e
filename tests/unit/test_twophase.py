"""The two-phase switch of a zonal data plane as pure state machines (platform.twophase)."""

from __future__ import annotations

import pytest

from ferryman.platform.twophase import Switch, TwoPhaseError, ZoneTables

ZONES = ("a", "b", "c")


def prepared(generation: int = 7) -> Switch:
    switch = Switch.begin(generation, ZONES)
    for zone in ZONES:
        switch = switch.ack(zone)
    return switch


# --- the coordinator's switch ------------------------------------------------------------------


def test_prepare_waits_for_every_zone_to_acknowledge() -> None:
    switch = Switch.begin(7, ZONES)
    assert switch.phase == "preparing" and switch.to_stage == ZONES
    switch = switch.ack("a").ack("c")
    assert switch.phase == "preparing" and switch.to_stage == ("b",)
    assert not switch.decided and switch.lagging == ()
    switch = switch.ack("b")
    assert switch.phase == "prepared" and switch.to_stage == ()


def test_an_ack_repeated_changes_nothing() -> None:
    switch = Switch.begin(7, ZONES).ack("a")
    assert switch.ack("a") == switch
    assert prepared().ack("b") == prepared()


def test_commit_before_every_ack_is_refused() -> None:
    switch = Switch.begin(7, ZONES).ack("a").ack("b")
    with pytest.raises(TwoPhaseError, match=r"zone\(s\) c have not acknowledged"):
        switch.decide()


def test_commit_then_every_zone_activates() -> None:
    switch = prepared().decide()
    assert switch.phase == "committing" and switch.decided
    assert switch.lagging == ZONES
    switch = switch.activate("b").activate("a").activate("c")
    assert switch.phase == "committed" and switch.lagging == ()


def test_a_zone_may_not_activate_before_the_decision() -> None:
    with pytest.raises(TwoPhaseError, match="zone a may not serve generation 7: it is prepared"):
        prepared().activate("a")
    with pytest.raises(TwoPhaseError, match="it is preparing"):
        Switch.begin(7, ZONES).activate("a")


def test_a_refusal_aborts_the_switch_everywhere() -> None:
    switch = Switch.begin(7, ZONES).ack("a").ack("c")
    aborted = switch.refuse("b", "port closed")
    assert aborted.phase == "aborted"
    assert aborted.reason == "zone b refused generation 7: port closed"
    assert aborted.to_drop == ("a", "c"), "zones that staged it must drop it"
    with pytest.raises(TwoPhaseError, match="generation 7 was aborted: zone b refused"):
        aborted.decide()
    with pytest.raises(TwoPhaseError, match="was aborted"):
        aborted.ack("b")
    with pytest.raises(TwoPhaseError, match="it is aborted"):
        aborted.activate("a")


def test_abort_of_a_prepared_switch_and_abort_twice() -> None:
    aborted = prepared().abort("superseded")
    assert aborted.phase == "aborted" and aborted.to_drop == ZONES
    assert aborted.abort("again") == aborted


def test_no_abort_once_the_commit_is_decided() -> None:
    committing = prepared().decide()
    with pytest.raises(TwoPhaseError, match="generation 7 is committed; switch back"):
        committing.abort("too late")
    with pytest.raises(TwoPhaseError, match="is committed"):
        committing.refuse("a", "late refusal")
    with pytest.raises(TwoPhaseError, match="is committed"):
        committing.activate("a").activate("b").activate("c").abort("too late")


def test_a_missed_commit_leaves_the_zone_lagging_until_the_retry() -> None:
    switch = prepared().decide().activate("a").activate("c")
    assert switch.phase == "committing"
    assert switch.lagging == ("b",), "zone b missed the commit"
    retried = switch.decide()
    assert retried == switch, "the retry's commit keeps the decision"
    assert retried.lagging == ("b",), "and forces only the lagging zone"
    assert retried.activate("b").phase == "committed"


def test_a_duplicate_commit_changes_nothing() -> None:
    committed = prepared().decide().activate("a").activate("b").activate("c")
    assert committed.decide() == committed
    assert committed.activate("a") == committed
    assert committed.lagging == ()


def test_unknown_zones_and_bad_switches_are_refused() -> None:
    with pytest.raises(TwoPhaseError, match="zone 'd' is not part of the switch to 7"):
        Switch.begin(7, ZONES).ack("d")
    with pytest.raises(TwoPhaseError, match="distinct zones"):
        Switch.begin(7, ("a", "a"))
    with pytest.raises(TwoPhaseError, match="distinct zones"):
        Switch.begin(7, ())


def test_a_switch_survives_json() -> None:
    switch = prepared().decide().activate("a")
    assert Switch.model_validate_json(switch.model_dump_json()) == switch


# --- a zone router's tables --------------------------------------------------------------------


def test_zone_stages_then_commits() -> None:
    zone = ZoneTables(active=6)
    staged = zone.stage(7)
    assert staged == ZoneTables(active=6, staged=7)
    assert staged.commit(7) == ZoneTables(active=7)


def test_zone_refuses_a_stale_generation() -> None:
    with pytest.raises(
        TwoPhaseError, match="generation 6 is not newer than the active generation 6"
    ):
        ZoneTables(active=6).stage(6)


def test_zone_newer_stage_supersedes_the_older() -> None:
    zone = ZoneTables(active=6).stage(7).stage(8)
    assert zone.staged == 8
    with pytest.raises(
        TwoPhaseError, match=r"generation 7 is not staged here \(holding generation 8\)"
    ):
        zone.commit(7)


def test_zone_duplicate_commit_and_commit_of_nothing() -> None:
    assert ZoneTables(active=7).commit(7) == ZoneTables(active=7)
    with pytest.raises(TwoPhaseError, match=r"not staged here \(holding nothing\)"):
        ZoneTables(active=6).commit(7)


def test_zone_abort_drops_only_its_generation() -> None:
    zone = ZoneTables(active=6).stage(7)
    assert zone.abort(8) == zone, "aborting what is not staged changes nothing"
    assert zone.abort(7) == ZoneTables(active=6)
    with pytest.raises(TwoPhaseError, match="generation 7 is active here"):
        zone.commit(7).abort(7)
