"""What a person needs beside a release's progress: holds, what is served now, leads on failure.

- A held promotion says that the release waits, for what, and the command that
  continues it (``hold_notices``).
- ``status`` shows what the platform serves now next to what the release
  recorded, and flags every difference (``platform_table``): another release may
  have changed a region since.
- A region with several services (or systems) behind one router is reached with
  a ``Host`` header; the summary says which (``served_lines``).
- A failed health check names the instances; their logs are where the reason is
  (``instance_log_hints``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rich.table import Table
from rich.text import Text

from ferryman.devstack import load_info
from ferryman.errors import FerrymanError
from ferryman.providers.local import LocalProvider
from ferryman.temporal.models.region import RegionProgress, RegionResult
from ferryman.temporal.models.release import ReleaseResult

Weights = dict[str, int]


def hold_notices(release_id: str, regions: Iterable[RegionProgress]) -> list[Text]:
    """One notice per region waiting for a person (a held promotion or a pause)."""
    notices: list[Text] = []
    for region in regions:
        waiting = [s for s in region.services if s.phase in ("await-promotion", "pause")]
        if region.phase == "awaiting-promotion" or any(
            s.phase == "await-promotion" for s in waiting
        ):
            names = ", ".join(f"{s.service} {s.version}" for s in waiting) or "the new version"
            notices.append(
                Text.assemble(
                    ("⏸ waiting for promotion ", "bold yellow"),
                    f"in {region.region}: {names} is healthy in every zone and takes no user "
                    "traffic yet. Continue with ",
                    (f"ferryman promote {release_id} --region {region.region}", "bold"),
                    " (or undo it with ",
                    (f'ferryman rollback {release_id} --reason "…"', "bold"),
                    ")",
                )
            )
        elif region.phase == "paused" or waiting:
            notices.append(
                Text.assemble(
                    ("⏸ paused ", "bold yellow"),
                    f"between traffic steps in {region.region}; it goes on by itself, or at once "
                    "with ",
                    (f"ferryman promote {release_id} --region {region.region}", "bold"),
                )
            )
    return notices


@dataclass
class PlatformRow:
    """What one region serves for one service now, and what the release recorded there."""

    region: str
    service: str
    zones: dict[str, list[str]] = field(default_factory=dict)
    weights: Weights = field(default_factory=dict)
    recorded: Weights | None = None
    error: str = ""

    @property
    def differs(self) -> bool:
        """Whether the platform's routes are not what the release recorded."""
        return self.recorded is not None and not self.error and self.weights != self.recorded


def recorded_weights(
    result: ReleaseResult | None, regions: Iterable[RegionProgress]
) -> dict[tuple[str, str], Weights]:
    """(region, service) → the routes the release left (finished) or set last (running)."""
    expected: dict[tuple[str, str], Weights] = {}
    for progress in regions:
        for view in progress.services:
            if view.weights:
                expected[(progress.region, view.service)] = dict(view.weights)
    if result is not None:
        for name, region in result.regions.items():
            expected.update(_left_by(name, region))
    return expected


def _left_by(name: str, region: RegionResult) -> dict[tuple[str, str], Weights]:
    left: dict[tuple[str, str], Weights] = {}
    for outcome in region.services:
        if outcome.status in ("restored", "rolled-back"):
            routes = outcome.recorded.routes
            left[(name, outcome.service)] = dict(routes.weights) if routes else {}
        else:
            left[(name, outcome.service)] = {outcome.target.version: 100}
    return left


def _split(weights: Mapping[str, int]) -> str:
    return ", ".join(f"{v} {w}%" for v, w in weights.items()) or "no routes"


def platform_table(rows: list[PlatformRow]) -> Table:
    """Per region and service: versions running per zone and the routes, now, beside the record."""
    table = Table(
        "region", "service", "running now", "traffic now", "release recorded", box=None,
        padding=(0, 2), title="what the platform serves now", title_justify="left",
    )  # fmt: skip
    for row in rows:
        running = "  ".join(f"{z}: {', '.join(v) or '-'}" for z, v in sorted(row.zones.items()))
        recorded = "-" if row.recorded is None else _split(row.recorded)
        mark = Text(recorded, style="red bold" if row.differs else "")
        if row.differs:
            mark.append("  ≠ now", style="red bold")
        table.add_row(
            row.region,
            row.service,
            Text(row.error, style="red") if row.error else Text(running or "-"),
            "" if row.error else _split(row.weights),
            mark,
        )
    return table


def differences(rows: list[PlatformRow]) -> list[str]:
    """One line per (region, service) whose routes changed since the release recorded them."""
    return [
        f"{row.region}/{row.service}: the platform routes {_split(row.weights)}, this release "
        f"recorded {_split(row.recorded or {})} (changed since, e.g. by a later release)"
        for row in rows
        if row.differs
    ]


def served_lines(result: ReleaseResult, region_services: Mapping[str, set[str]]) -> list[str]:
    """Where each region answers, what it serves, and the Host header when one is needed.

    Args:
        result: The finished release.
        region_services: Region → every service its router serves now (this release's
            and other systems'); a router with more than one needs a ``Host`` header.
    """
    lines: list[str] = []
    for region, url in result.router_urls.items():
        outcome = result.regions.get(region)
        versions = outcome.versions if outcome else {}
        served = ", ".join(f"{s} {v}" for s, v in versions.items()) or result.version
        lines.append(f"{region}: {url}  serves {served}")
        behind = region_services.get(region, set()) | set(versions)
        if len(behind) > 1:
            example = sorted(versions)[0] if versions else sorted(behind)[0]
            lines.append(
                f"  {len(behind)} services share this router ({', '.join(sorted(behind))}): "
                f"pick one with its Host header, e.g. curl -H 'Host: {example}' {url}/"
            )
    return lines


_INSTANCE = re.compile(r"\b([a-z0-9][a-z0-9-]*-[0-9a-f]{6})\b")


def instance_log_hints(error: str, logs_dir: Path, lines: int = 3) -> list[str]:
    """For each instance an error names whose log exists: its path and last lines."""
    hints: list[str] = []
    for instance in dict.fromkeys(_INSTANCE.findall(error)):
        log = logs_dir / f"{instance}.log"
        if not log.is_file():
            continue
        tail = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()][-lines:]
        hints.append(f"log of {instance}: {log}")
        hints += [f"  | {ln}" for ln in tail] or ["  (empty)"]
    return hints


def agent_url(explicit: str | None = None) -> str | None:
    """The local agent to ask: ``--agent-url``/``FERRYMAN_AGENT_URL``, else the dev stack's."""
    if explicit or os.environ.get("FERRYMAN_AGENT_URL"):
        return explicit or os.environ["FERRYMAN_AGENT_URL"]
    info = load_info()
    return info.agent_url if info is not None and info.alive() else None


async def platform_rows(
    url: str,
    environment: str,
    places: Iterable[tuple[str, str]],
    recorded: Mapping[tuple[str, str], Weights],
) -> list[PlatformRow]:
    """Ask the agent what each (region, service) serves now in ``environment``."""
    provider = LocalProvider(url, environment=environment, timeout=5)
    rows: list[PlatformRow] = []
    for region, service in places:
        row = PlatformRow(region=region, service=service, recorded=recorded.get((region, service)))
        try:
            state = await provider.current_state(region, service)
        except FerrymanError as exc:
            row.error = f"cannot ask the platform: {exc}"
        else:
            row.zones = {zone: list(v) for zone, v in state.versions_by_zone.items()}
            row.weights = dict(state.routes.weights) if state.routes else {}
        rows.append(row)
    return rows


async def region_services(url: str | None, environment: str) -> dict[str, set[str]]:
    """Region → services with running instances in ``environment`` (empty without an agent)."""
    if url is None:
        return {}
    try:
        instances = await LocalProvider(url, environment=environment, timeout=5).instances()
    except FerrymanError:
        return {}
    found: dict[str, set[str]] = {}
    for instance in instances:
        if instance.state != "stopped":
            found.setdefault(instance.region, set()).add(instance.service)
    return found
