"""The closing table: one row per level, 0 to 7, with the measured numbers and where to look."""

from __future__ import annotations

import io
import json
from dataclasses import asdict
from pathlib import Path

from rich.console import Console

from ferryman.demo.findings import Findings
from ferryman.demo.summary import Places, render, rows

PLACES = Places(
    dashboard="http://127.0.0.1:7490",
    temporal_ui="http://127.0.0.1:8233/namespaces/default/workflows",
    home="/state/demo",
)


def findings() -> Findings:
    f = Findings()
    f.build.build_id = "build/shop/1"
    f.build.lib_steps = ["test", "package"]
    f.build.nodes, f.build.repos, f.build.platforms, f.build.built = 6, 4, 2, 6
    for role, n, cached in (("first", 1, 6), ("good", 2, 4), ("bad", 3, 4)):
        release = f.release(role)
        release.release_id = f"release/shop/prod/{n}"
        release.cached, release.built = cached, 6 - cached
    f.release("first").approved_by = "demo-approver"
    f.release("first").instances_started = 36
    f.rollout.skew_ms = {"us-east": 0.0, "eu-west": 2.5, "ap-south": 1.0}
    f.rollout.verdicts = {r: "pass: fine" for r in f.rollout.skew_ms}
    f.rollout.requests = 900
    rb = f.rollback
    rb.caught_in, rb.restored = "eu-west", ["eu-west", "us-east"]
    rb.bad_answered, rb.checkout_requests, rb.bad_failed = 100, 1000, 12
    rb.caught_region_answered, rb.caught_region_requests = 40, 160
    rb.routes_back_ms, rb.last_bad_ms = 180.0, 150.0
    rb.region_back_ms = {"eu-west": 40.0, "us-east": 180.0}
    return f


def test_one_row_per_level_with_its_numbers_and_where_to_look() -> None:
    table = rows(findings(), PLACES)
    assert [row[0][0] for row in table] == list("01234567")
    text = {row[0][0]: " | ".join(row) for row in table}
    assert "lib: test → package" in text["0"] and "ferryman logs build/shop/1" in text["0"]
    assert "36 instances started" in text["1"]
    assert "releases' builds from cache: 6/6, 4/6, 4/6" in text["2"]
    assert "skew window ≤ 2 ms; 0 of 900 requests failed" in text["3"]
    assert "demo-approver" in text["4"] and "ferryman audit release/shop/prod/1" in text["4"]
    assert (
        "restored eu-west, us-east" in text["6"]
        and "routes back in eu-west 40 ms, us-east 180 ms" in text["6"]
    )
    assert "answered 100 of 1000 checkout requests (10.0%), 12 failed" in text["7"]
    assert "in eu-west 40 of 160 while judged (25%)" in text["7"]
    assert "http://127.0.0.1:7490/releases/release/shop/prod/3" in text["7"]


def test_a_missing_measurement_is_not_shown_as_a_number() -> None:
    table = rows(Findings(), PLACES)
    assert "skew window ≤ n/a" in table[3][2]


def test_the_table_prints_with_the_urls_and_the_findings_save_as_json(tmp_path: Path) -> None:
    out = io.StringIO()
    render(Console(file=out, width=200), findings(), PLACES)
    printed = out.getvalue()
    assert "Temporal Web UI  http://127.0.0.1:8233/namespaces/default/workflows" in printed
    assert "export FERRYMAN_HOME=/state/demo" in printed
    assert "users            0 requests, 0 failed\n" in printed
    findings().write(tmp_path / "summary.json")
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved == json.loads(json.dumps(asdict(findings())))
    assert saved["rollback"]["restored"] == ["eu-west", "us-east"]
