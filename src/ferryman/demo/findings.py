"""What the demo measured, step by step: the summary table's numbers, and its JSON.

Each story step fills its part; ``summary`` renders them, and
``DEMO_SUMMARY_JSON`` gets them as JSON for whoever checks the demo (its
integration test). Every number comes from something that happened: a
build's recorded node times and cache hits, the agent's event log, the
workflows' own records, and the answers the demo's users received.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class BuildFigures:
    """The shop's first build (levels 0 and 2).

    Attributes:
        build_id: Its workflow id.
        nodes: Repo × platform nodes.
        repos: Repos.
        platforms: Matrix legs of the services' repos.
        built: Nodes that ran their steps.
        cached: Nodes served from the cache.
        seconds: First node's start to last node's end.
        lib_steps: The steps one repo (lib) ran, in order (level 0).
        lib_seconds: How long lib's build took.
        artifact: The node whose provenance was verified, and its digest.
        provenance_problems: What verification found wrong (empty: signature and digests hold).
    """

    build_id: str = ""
    nodes: int = 0
    repos: int = 0
    platforms: int = 0
    built: int = 0
    cached: int = 0
    seconds: float = 0.0
    lib_steps: list[str] = field(default_factory=list)
    lib_seconds: float = 0.0
    artifact: str = ""
    provenance_problems: list[str] = field(default_factory=list)


@dataclass
class ReleaseFigures:
    """One production release.

    Attributes:
        release_id: Its workflow id.
        status: ``succeeded``, ``failed``, …
        error: Why it failed, if it did.
        seconds: Start to end.
        built: Build nodes that ran their steps.
        cached: Build nodes served from the cache.
        gate_wait_s: The gate opened → decided.
        approved_by: Who approved the gate (from its audit trail).
        versions: The version of each service it released.
        instances_started: Instances the agent started for it.
    """

    release_id: str = ""
    status: str = ""
    error: str = ""
    seconds: float = 0.0
    built: int = 0
    cached: int = 0
    gate_wait_s: float = 0.0
    approved_by: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    instances_started: int = 0


@dataclass
class RolloutFigures:
    """The good release under traffic (levels 3, 5, 6 and 7).

    Attributes:
        skew_ms: Region → the blue-green service's skew window (first new answer to last old).
        requests: Requests the users sent during the release.
        failed: Of those, the ones that failed.
        verdicts: Region → the canary analysis's verdict and reason.
    """

    skew_ms: dict[str, float] = field(default_factory=dict)
    requests: int = 0
    failed: int = 0
    verdicts: dict[str, str] = field(default_factory=dict)


@dataclass
class RollbackFigures:
    """The bad release, caught and rolled back (levels 6 and 7).

    Attributes:
        bad_version: The bad checkout version.
        caught_in: The region whose canary analysis failed.
        reason: The analysis's reason.
        restored: Regions put back, in order.
        decision_at: When the analysis failed (wall clock).
        routes_back_ms: Decision → the last region's routes put back (agent's event log).
        region_back_ms: Region → decision to its routes put back.
        last_bad_ms: Decision → the last request the bad version answered.
        bad_answered: Checkout requests the bad version answered (the generator's count).
        bad_failed: Of those, the ones that failed.
        checkout_requests: Checkout requests during the release, every region.
        caught_region_answered: Requests the bad version answered in the region that caught it.
        caught_region_requests: Checkout requests in that region while it was judged there.
    """

    bad_version: str = ""
    caught_in: str = ""
    reason: str = ""
    restored: list[str] = field(default_factory=list)
    decision_at: float = 0.0
    routes_back_ms: float = 0.0
    region_back_ms: dict[str, float] = field(default_factory=dict)
    last_bad_ms: float = 0.0
    bad_answered: int = 0
    bad_failed: int = 0
    checkout_requests: int = 0
    caught_region_answered: int = 0
    caught_region_requests: int = 0


@dataclass
class Findings:
    """Everything the demo measured.

    Attributes:
        build: The first build.
        releases: Each production release, by role: ``first``, ``good``, ``bad``.
        rollout: The good release under traffic.
        rollback: The bad release.
        served: Region → service → versions real requests got at the end.
        good_versions: Service → the version every region should serve at the end.
        requests: Requests the users sent in the whole story.
        failed: Of those, the ones that failed.
        wall_s: The whole run, stack start to summary.
        urls: Where to look: ``dashboard``, ``temporal_ui``, ``home``.
    """

    build: BuildFigures = field(default_factory=BuildFigures)
    releases: dict[str, ReleaseFigures] = field(default_factory=dict)
    rollout: RolloutFigures = field(default_factory=RolloutFigures)
    rollback: RollbackFigures = field(default_factory=RollbackFigures)
    served: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    good_versions: dict[str, str] = field(default_factory=dict)
    requests: int = 0
    failed: int = 0
    wall_s: float = 0.0
    urls: dict[str, str] = field(default_factory=dict)

    def release(self, role: str) -> ReleaseFigures:
        """The figures of the release playing ``role`` (empty ones before it ran)."""
        return self.releases.setdefault(role, ReleaseFigures())

    def write(self, path: Path) -> None:
        """Save as JSON."""
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")
