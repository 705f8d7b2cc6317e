"""The closing table: per level, what happened, the numbers measured, and where to look.

``rows`` turns the findings into the table's text (a pure function, unit
tested); ``render`` prints it with the URLs and commands that show more.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from rich.table import Column, Table

from ferryman.demo.findings import Findings


@dataclass(frozen=True)
class Places:
    """Where a person looks: the dashboard, the Temporal Web UI, the demo's state home."""

    dashboard: str
    temporal_ui: str
    home: str


def _ms(value: float) -> str:
    return f"{value:.0f} ms" if value >= 0 else "n/a"


def rows(f: Findings, places: Places) -> list[tuple[str, str, str, str]]:
    """One row per level: (level, what happened, measured, where to look)."""
    first, good, bad = f.release("first"), f.release("good"), f.release("bad")
    b, r, rb = f.build, f.rollout, f.rollback
    page = f"{places.dashboard}/releases/"
    skew = max(r.skew_ms.values(), default=-1.0)
    passed = sum(1 for v in r.verdicts.values() if v.startswith("pass"))
    share = 100 * rb.bad_answered / rb.checkout_requests if rb.checkout_requests else 0.0
    judged = (
        100 * rb.caught_region_answered / rb.caught_region_requests
        if rb.caught_region_requests
        else 0.0
    )
    backs = ", ".join(f"{r} {_ms(ms)}" for r, ms in rb.region_back_ms.items()) or "n/a"
    caches = ", ".join(
        f"{fig.cached}/{fig.cached + fig.built}" for fig in (first, good, bad) if fig.release_id
    )
    return [
        (
            "0 build a repo",
            f"lib: {' → '.join(b.lib_steps)}; outputs stored content-addressed",
            f"lib built in {b.lib_seconds:.1f}s",
            f"ferryman logs {b.build_id}",
        ),
        (
            "1 deploy a service",
            "first release: instances started in every zone, health-checked, routed",
            f"{first.instances_started} instances started; live in {first.seconds:.0f}s",
            f"ferryman status {first.release_id}",
        ),
        (
            "2 DAG build",
            f"{b.repos} repos, {b.platforms} platforms: {b.nodes} nodes; cache; signed provenance",
            f"cold build {b.seconds:.1f}s ({b.built} built); releases' builds from cache: {caches};"
            f" provenance {'verified' if not b.provenance_problems else 'BROKEN'}",
            "ferryman builds · ferryman provenance catalog:linux-amd64",
        ),
        (
            "3 blue-green",
            "catalog: new colour warm beside the old, one atomic route swap per region",
            f"skew window ≤ {_ms(skew)}; {r.failed} of {r.requests} requests failed during it",
            f"{page}{good.release_id}",
        ),
        (
            "4 approval gate",
            f"go-live before production, approved by {first.approved_by or 'nobody'}"
            " with a change ticket; alice may not approve her own release",
            f"first gate decided after {first.gate_wait_s:.1f}s",
            f"ferryman audit {first.release_id} · {places.dashboard}/gates",
        ),
        (
            "5 zones",
            "3 zones per region started at once, one barrier, switched together",
            f"{len(r.skew_ms)} regions × 3 zones; both versions answered a region for"
            f" ≤ {_ms(skew)}",
            f"ferryman status {good.release_id}",
        ),
        (
            "6 waves + saga",
            f"us-east → eu-west → ap-south with bakes; the bad release restored"
            f" {', '.join(rb.restored) or 'nothing'}",
            f"good release {good.seconds:.0f}s; after the verdict, routes back in {backs};"
            f" bad version's last answer {_ms(rb.last_bad_ms)} after it",
            f"ferryman status {bad.release_id} · Temporal UI",
        ),
        (
            "7 canary",
            f"checkout passed in {passed} regions; the bad version failed in {rb.caught_in}",
            f"bad version answered {rb.bad_answered} of {rb.checkout_requests} checkout requests"
            f" ({share:.1f}%), {rb.bad_failed} failed; in {rb.caught_in}"
            f" {rb.caught_region_answered} of {rb.caught_region_requests} while judged"
            f" ({judged:.0f}%)",
            f"{page}{bad.release_id}",
        ),
    ]


def _whose(f: Findings) -> str:
    if not f.failed:
        return ""
    if f.failed == f.rollback.bad_failed:
        return ", every one an answer of the bad version"
    return f" ({f.rollback.bad_failed} answers of the bad version)"


def render(console: Console, f: Findings, places: Places) -> None:
    """Print the table, then where to look and how long it all took."""
    table = Table(
        Column("level", no_wrap=True),
        Column("what happened", ratio=3),
        Column("measured", ratio=3),
        Column("where to look", ratio=3, overflow="fold"),
        title="the demo, level by level: what happened, measured",
    )
    for row in rows(f, places):
        table.add_row(*row)
    console.print(table)
    console.print(
        f"dashboard        {places.dashboard}/releases  (log in with a token from"
        f" {places.home}/demo-tokens.yaml)\n"
        f"Temporal Web UI  {places.temporal_ui}\n"
        f"state home       export FERRYMAN_HOME={places.home}   # then: ferryman status,"
        f" ferryman audit {f.release('first').release_id}, ferryman builds\n"
        f"users            {f.requests} requests, {f.failed} failed{_whose(f)}\n"
        f"demo finished in {f.wall_s:.0f}s",
        highlight=False,
        soft_wrap=True,
    )
