"""The demo's figures from a timeline of answers: skew windows, shares, last answers."""

from __future__ import annotations

import pytest

from ferryman.demo.measure import epoch, failed, last_answer, served_last, share, skew_window_ms
from ferryman.demo.traffic import Seen


def seen(
    at: float, version: str, region: str = "eu", service: str = "web", bad: bool = False
) -> Seen:
    return Seen(at=at, region=region, service=service, version=version, failed=bad)


def test_the_skew_window_runs_from_the_first_new_answer_to_the_last_old_one() -> None:
    timeline = [seen(1.0, "v1"), seen(2.0, "v2"), seen(2.003, "v1"), seen(3.0, "v2")]
    assert skew_window_ms(timeline, "eu", "web", "v1", "v2") == pytest.approx(3.0)


def test_a_clean_switch_has_no_skew_and_a_missing_switch_says_so() -> None:
    clean = [seen(1.0, "v1"), seen(2.0, "v2"), seen(2.5, "v2")]
    assert skew_window_ms(clean, "eu", "web", "v1", "v2") == 0.0
    assert skew_window_ms(clean, "eu", "web", "v1", "v3") == -1.0
    assert skew_window_ms(clean, "us", "web", "v1", "v2") == -1.0, "another region"


def test_other_regions_and_services_do_not_count_towards_a_skew_window() -> None:
    timeline = [seen(2.0, "v2"), seen(9.0, "v1", region="us"), seen(9.0, "v1", service="db")]
    assert skew_window_ms(timeline, "eu", "web", "v1", "v2") == 0.0


def test_a_share_counts_a_version_against_its_service_in_the_regions_asked() -> None:
    timeline = [
        seen(1, "v1"),
        seen(2, "v2", bad=True),
        seen(3, "v2"),
        seen(4, "v2", region="us"),
        seen(5, "v1", service="db"),
    ]
    everywhere = share(timeline, "web", "v2")
    assert (everywhere.answered, everywhere.failed, everywhere.total) == (3, 1, 4)
    assert everywhere.percent == 75.0 and everywhere.failed_percent == 25.0
    eu = share(timeline, "web", "v2", regions=["eu"])
    assert (eu.answered, eu.total) == (2, 3)
    assert share([], "web", "v2").percent == 0.0


def test_last_answers_failures_and_what_a_region_serves_at_the_end() -> None:
    timeline = [seen(1, "v1"), seen(2, "v2", bad=True), seen(5, "v1"), seen(6, "v1")]
    assert last_answer(timeline, "web", "v2") == 2
    assert last_answer(timeline, "web", "v9") is None
    assert failed(timeline) == 1 and failed(timeline, ["v1"]) == 0
    assert served_last(timeline, "eu", "web", tail_s=2.0) == {"v1"}
    assert served_last(timeline, "us", "web") == set()


def test_iso_times_become_epoch_seconds() -> None:
    assert epoch("1970-01-01T00:01:00Z") == 60.0
    assert epoch("1970-01-01T01:00:00+01:00") == 0.0
