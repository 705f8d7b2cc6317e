"""What a release page shows, gathered from Temporal in one pass (:func:`release_page`).

Everything is read: the release's progress (a worker's answer, else its memo),
each region deploy's progress and canary judgements, the build's result, the
gates and their audit trail. Nothing here changes a workflow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote

from temporalio.client import Client

from ferryman.analysis.models import Judgement
from ferryman.approvals.audit import AuditEvent
from ferryman.approvals.views import GateView
from ferryman.plan.models import ReleasePlan
from ferryman.server.web.layout import (
    Chart,
    Dag,
    DagNode,
    Segment,
    dag_layout,
    line_chart,
    split_bar,
    version_colours,
)
from ferryman.temporal.client.gates import GateRefused, pending_gates, release_audit
from ferryman.temporal.client.lookups import build_nodes, release_plan
from ferryman.temporal.client.releases import release_progress
from ferryman.temporal.client.views import (
    build_result,
    describe,
    region_actions,
    region_analysis,
    status_name,
)
from ferryman.temporal.models.analysis import AnalysisRecord
from ferryman.temporal.models.build import BuildResult
from ferryman.temporal.models.region import RegionProgress, ZoneView
from ferryman.temporal.models.release import ReleaseEvent, ReleaseProgress

BAR_W = 200


@dataclass(frozen=True)
class ServiceCard:
    """A service in a region: the version it goes to, its step, traffic split and zones."""

    name: str
    version: str
    phase: str
    step: str
    analysis: str
    error: str
    weights: dict[str, int]
    bar: tuple[Segment, ...]
    zones: tuple[ZoneView, ...]


@dataclass(frozen=True)
class RegionCard:
    """A region of the world view."""

    name: str
    wave: int
    state: str
    action: str
    phase: str
    services: tuple[ServiceCard, ...]


@dataclass(frozen=True)
class MetricChart:
    """One metric of one canary analysis step: canary against baseline over time."""

    region: str
    service: str
    step: str
    key: str
    chart: Chart
    last: Judgement


@dataclass(frozen=True)
class BuildRow:
    """A build node's line under the DAG: state, time, cache, links."""

    id: str
    state: str
    duration: str
    cached: bool
    logs: bool
    provenance: bool
    error: str = ""


@dataclass
class ReleasePage:
    """Everything the release page shows."""

    release_id: str
    status: str
    exists: bool = True
    progress: ReleaseProgress | None = None
    source: str = "none"
    plan: ReleasePlan | None = None
    dag: Dag | None = None
    build_rows: list[BuildRow] = field(default_factory=list)
    waves: list[list[RegionCard]] = field(default_factory=list)
    colours: dict[str, str] = field(default_factory=dict)
    charts: list[MetricChart] = field(default_factory=list)
    judgements: list[tuple[str, AnalysisRecord]] = field(default_factory=list)
    audit: list[AuditEvent] = field(default_factory=list)
    gates: list[GateView] = field(default_factory=list)
    events: list[ReleaseEvent] = field(default_factory=list)
    started: datetime | None = None
    closed: datetime | None = None
    temporal_url: str = ""

    @property
    def finished(self) -> bool:
        """Whether the release ended (nothing more will change)."""
        return self.status != "running"


def temporal_link(ui: str | None, namespace: str, workflow_id: str) -> str:
    """The Temporal Web UI page of a workflow, or "" without a UI."""
    if not ui:
        return ""
    return f"{ui.rstrip('/')}/namespaces/{quote(namespace)}/workflows/{quote(workflow_id, safe='')}"


def _duration(seconds: float) -> str:
    if seconds <= 0:
        return ""
    return f"{seconds:.1f}s" if seconds < 60 else f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


def build_view(
    plan: ReleasePlan | None, statuses: dict[str, str], result: BuildResult | None
) -> tuple[Dag | None, list[BuildRow]]:
    """The DAG of the release's build and a row per node."""
    if plan is None or not plan.build.nodes:
        return None, []
    nodes, rows = [], []
    for node in plan.build.nodes:
        outcome = result.nodes.get(node.id) if result else None
        state = statuses.get(node.id, "pending")
        if outcome is not None:
            state = "cached" if outcome.cached else outcome.status
        duration = _duration(outcome.duration_s) if outcome else ""
        detail = "cache hit" if outcome and outcome.cached else duration
        nodes.append(DagNode(node.id, node.needs, state, detail, bool(outcome and outcome.cached)))
        rows.append(
            BuildRow(
                id=node.id,
                state=state,
                duration=duration,
                cached=bool(outcome and outcome.cached),
                logs=bool(outcome and outcome.steps),
                provenance=bool(outcome and outcome.artifact and outcome.status == "succeeded"),
                error=outcome.error if outcome else "",
            )
        )
    return dag_layout(nodes), rows


def world_view(
    progress: ReleaseProgress, regions: list[RegionProgress]
) -> tuple[list[list[RegionCard]], dict[str, str]]:
    """Waves of region cards, and a colour per version seen."""
    by_name = {r.region: r for r in regions}
    versions = [
        v
        for r in regions
        for s in r.services
        for v in (*s.weights, *(v for z in s.zones for v in z.versions), s.version)
    ]
    colours = version_colours(sorted(set(versions), key=lambda v: (v == progress.version, v)))
    waves = progress.waves or (tuple(progress.regions),)
    cards: list[list[RegionCard]] = []
    for number, wave in enumerate(waves, start=1):
        column = []
        for name in wave:
            seen = by_name.get(name)
            services = tuple(
                ServiceCard(
                    name=s.service,
                    version=s.version,
                    phase=s.phase,
                    step=s.step,
                    analysis=s.analysis,
                    error=s.error,
                    weights=dict(s.weights),
                    bar=split_bar(dict(s.weights), BAR_W, colours),
                    zones=s.zones,
                )
                for s in (seen.services if seen else ())
            )
            column.append(
                RegionCard(
                    name=name,
                    wave=number,
                    state=progress.regions.get(name, "pending"),
                    action=seen.action if seen else "",
                    phase=seen.phase if seen else "",
                    services=services,
                )
            )
        cards.append(column)
    return cards, colours


def merged_view(actions: dict[str, RegionProgress]) -> RegionProgress | None:
    """One view of a region from its switch and the finalize or restore after it.

    The switch's view has the traffic split and the versions in each zone; a
    later action's phase, steps and zones win where it reports them, and a
    finished finalize leaves only the new version running.
    """
    switch = actions.get("switch")
    later = actions.get("restore") or actions.get("finalize")
    if switch is None or later is None:
        return later or switch
    by_service = {s.service: s for s in later.services}
    services = []
    for service in switch.services:
        after = by_service.get(service.service)
        if after is None:
            services.append(service)
            continue
        reported = any(z.status != "pending" or z.versions for z in after.zones)
        zones = after.zones if reported else service.zones
        if not reported and later.action == "finalize" and later.phase == "done":
            zones = tuple(
                z.model_copy(update={"versions": (service.version,), "status": "live"})
                for z in service.zones
            )
        services.append(
            service.model_copy(
                update={
                    "phase": after.phase,
                    "step": after.step,
                    "zones": zones,
                    "weights": after.weights or service.weights,
                    "error": after.error or service.error,
                }
            )
        )
    return later.model_copy(update={"services": tuple(services)})


def _seconds(stamp: str) -> float:
    try:
        return datetime.fromisoformat(stamp).timestamp()
    except ValueError:
        return 0.0


def canary_charts(analysis: dict[str, list[AnalysisRecord]]) -> list[MetricChart]:
    """A chart per region, service, step and metric, from the region's judgements."""
    grouped: dict[tuple[str, str, str, str], list[AnalysisRecord]] = {}
    for region, records in analysis.items():
        for record in records:
            if record.key in ("run", "decision", "conversion"):
                continue
            grouped.setdefault((region, record.service, record.step, record.key), []).append(record)
    charts = []
    for (region, service, step, key), records in grouped.items():
        samples = [
            (_seconds(r.at), r.judgement.canary.mean, r.judgement.baseline.mean) for r in records
        ]
        if not any(c is not None or b is not None for _, c, b in samples):
            continue
        charts.append(
            MetricChart(region, service, step, key, line_chart(samples), records[-1].judgement)
        )
    return charts


async def release_page(
    client: Client, release_id: str, temporal_ui: str | None, namespace: str
) -> ReleasePage:
    """Gather the release page of ``release_id`` (``exists`` False if there is no such release)."""
    description = await describe(client, release_id)
    if description is None or description.workflow_type != "ferryman.Release":
        return ReleasePage(release_id=release_id, status="unknown", exists=False)
    page = ReleasePage(
        release_id=release_id,
        status=status_name(description.status),
        started=description.start_time,
        closed=description.close_time,
        temporal_url=temporal_link(temporal_ui, namespace, release_id),
    )
    page.progress, page.source = await release_progress(client, release_id)
    page.plan = await release_plan(client, release_id)
    progress = page.progress
    statuses = dict(progress.nodes) if progress else {}
    if progress is not None and progress.phase == "build":
        statuses |= await build_nodes(client, release_id) or {}
    page.dag, page.build_rows = build_view(
        page.plan, statuses, await build_result(client, release_id)
    )
    if progress is None:
        return page
    page.events = list(progress.events)
    started = [r for r, state in progress.regions.items() if state != "pending"]
    regions = [
        view
        for region in started
        if (view := merged_view(await region_actions(client, release_id, region))) is not None
    ]
    page.waves, page.colours = world_view(progress, regions)
    analysis = await region_analysis(client, release_id, started)
    records = {region: list(view.records) for region, view in analysis.items()}
    page.charts = canary_charts(records)
    page.judgements = sorted(
        ((region, r) for region, rs in records.items() for r in rs), key=lambda x: x[1].at
    )
    try:
        page.audit = await release_audit(client, release_id)
    except GateRefused:
        page.audit = []
    if page.status == "running":
        page.gates = await pending_gates(client, release_id)
    return page
