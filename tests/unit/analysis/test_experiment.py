"""A/B experiments: a known difference is found with its sign and interval; A/A is no difference."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from ferryman.analysis import (
    ExperimentConfig,
    Variant,
    analyze_experiment,
    report_rows,
)

SEQUENTIAL = ExperimentConfig(stopping="sequential", alpha=0.05, equivalence=0.01)


def test_known_difference_has_the_right_sign_and_interval() -> None:
    control = Variant(name="a", exposures=10_000, conversions=1_000)
    treatment = Variant(name="b", exposures=10_000, conversions=1_150)
    report = analyze_experiment([control, treatment])
    (c,) = report.comparisons
    assert report.winner == "b" and report.verdict == "pass"
    assert c.decision == "better" and c.test == "z"
    assert c.difference == pytest.approx(0.015)
    assert c.lift == pytest.approx(0.15)
    se = math.sqrt(0.1 * 0.9 / 10_000 + 0.115 * 0.885 / 10_000)
    assert c.lower == pytest.approx(0.015 - 1.959964 * se, rel=1e-5)
    assert c.upper == pytest.approx(0.015 + 1.959964 * se, rel=1e-5)
    pooled = 2150 / 20_000
    z = 0.015 / math.sqrt(pooled * (1 - pooled) * 2 / 10_000)
    assert c.p_value == pytest.approx(2 * stats.norm.sf(z))
    flipped = analyze_experiment(
        [treatment.model_copy(update={"name": "a"}), control.model_copy(update={"name": "b"})]
    )
    assert flipped.comparisons[0].decision == "worse" and flipped.winner == "a"


def test_a_a_is_no_difference() -> None:
    rng = np.random.default_rng(12)
    found = 0
    for _ in range(200):
        a, b = rng.binomial(5_000, 0.1, 2)
        report = analyze_experiment(
            [
                Variant(name="a", exposures=5_000, conversions=int(a)),
                Variant(name="b", exposures=5_000, conversions=int(b)),
            ]
        )
        found += report.winner is not None
    assert found / 200 <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / 200)
    report = analyze_experiment(
        [
            Variant(name="a", exposures=5_000, conversions=500),
            Variant(name="b", exposures=5_000, conversions=505),
        ]
    )
    assert report.winner is None and report.comparisons[0].decision == "no-difference"
    assert report.reason == "no difference between a, b"


def test_small_counts_use_fisher_and_match_scipy() -> None:
    control = Variant(name="a", exposures=40, conversions=1)
    treatment = Variant(name="b", exposures=40, conversions=7)
    (c,) = analyze_experiment([control, treatment]).comparisons
    assert c.test == "fisher"
    assert c.p_value == pytest.approx(stats.fisher_exact([[7, 33], [1, 39]]).pvalue)


def test_sequential_stopping_finds_the_winner_and_the_tie() -> None:
    rng = np.random.default_rng(13)
    a = b = 0
    n = 0
    decided = None
    for _ in range(200):
        n += 1_000
        a += int(rng.binomial(1_000, 0.10))
        b += int(rng.binomial(1_000, 0.13))
        report = analyze_experiment(
            [
                Variant(name="a", exposures=n, conversions=a),
                Variant(name="b", exposures=n, conversions=b),
            ],
            SEQUENTIAL,
        )
        if report.verdict != "continue":
            decided = report
            break
    assert decided is not None and decided.winner == "b"
    c = decided.comparisons[0]
    assert c.test == "sequential" and c.lower > 0 and c.upper > 0.03 > c.lower
    tie = analyze_experiment(
        [
            Variant(name="a", exposures=200_000, conversions=20_000),
            Variant(name="b", exposures=200_000, conversions=20_100),
        ],
        SEQUENTIAL,
    )
    assert tie.verdict == "pass" and tie.comparisons[0].decision == "no-difference"
    early = analyze_experiment(
        [
            Variant(name="a", exposures=100, conversions=10),
            Variant(name="b", exposures=100, conversions=12),
        ],
        SEQUENTIAL,
    )
    assert early.verdict == "continue"


def test_several_treatments_and_no_data() -> None:
    variants = [
        Variant(name="a", exposures=10_000, conversions=1_000),
        Variant(name="b", exposures=10_000, conversions=1_010),
        Variant(name="c", exposures=10_000, conversions=1_300),
    ]
    report = analyze_experiment(variants)
    assert report.winner == "c"
    assert [c.decision for c in report.comparisons] == ["no-difference", "better"]
    empty = analyze_experiment([variants[0], Variant(name="d", exposures=0, conversions=0)])
    assert empty.verdict == "no-data"
    with pytest.raises(ValueError, match="at least one treatment"):
        analyze_experiment(variants[:1])
    with pytest.raises(ValueError, match="more conversions than exposures"):
        Variant(name="x", exposures=1, conversions=2)


def test_report_rows() -> None:
    report = analyze_experiment(
        [
            Variant(name="a", exposures=10_000, conversions=1_000),
            Variant(name="b", exposures=10_000, conversions=1_150),
        ]
    )
    rows = report_rows(report)
    assert rows[0] == {
        "variant": "a",
        "exposure": "10,000",
        "conversions": "1,000",
        "rate": "10.0%",
        "effect": "control",
        "interval": "",
        "decision": "",
    }
    assert rows[1]["effect"] == "+15.0%"
    assert rows[1]["decision"] == "winner"
    assert rows[1]["interval"].startswith("[+0.") and rows[1]["interval"].endswith("pp")
