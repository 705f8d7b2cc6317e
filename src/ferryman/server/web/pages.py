"""The dashboard's read-only pages: the releases list, a release, the gates inbox, logs."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, get_args

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from ferryman import paths
from ferryman.build.artifacts import ArtifactStore
from ferryman.build.provenance import ProvenanceStore
from ferryman.errors import FerrymanError
from ferryman.server.context import context_of
from ferryman.server.web.access import PageError, Visitor, reader
from ferryman.server.web.data import release_page
from ferryman.server.web.templating import render
from ferryman.temporal.client.gates import pending_gates
from ferryman.temporal.client.views import BadFilter, ReleaseFilter, build_result, list_releases
from ferryman.temporal.models.build import NodeResult
from ferryman.temporal.models.release import ReleasePhase

router = APIRouter(tags=["dashboard"], include_in_schema=False)
Reader = Annotated[Visitor, Depends(reader)]
PHASES: tuple[str, ...] = get_args(ReleasePhase)
LOG_TAIL = 200_000


@router.get("/")
async def home() -> RedirectResponse:
    """The releases list."""
    return RedirectResponse("/releases", status_code=303)


def release_filter(
    system: str = "", env: str = "", phase: str = "", version: str = ""
) -> ReleaseFilter:
    """The list's filters from the query string (checked when the query is built)."""
    return ReleaseFilter(system.strip(), env.strip(), phase.strip(), version.strip())


Filter = Annotated[ReleaseFilter, Depends(release_filter)]


async def releases_rows(request: Request, where: ReleaseFilter) -> list[object]:
    """The releases matching ``where``.

    Raises:
        PageError: 422 for a malformed filter value.
    """
    try:
        return list(await list_releases(await context_of(request).client(), where))
    except BadFilter as exc:
        raise PageError(422, "invalid", str(exc)) from None


@router.get("/releases", response_class=HTMLResponse)
async def releases(request: Request, who: Reader, where: Filter) -> Response:
    """Every release, newest first, filtered by system, environment, phase and version."""
    rows = await releases_rows(request, where)
    live = "/live/releases" + (f"?{request.url.query}" if request.url.query else "")
    return render(request, "releases.html", rows=rows, where=where, phases=PHASES, live=live)


@router.get("/gates", response_class=HTMLResponse)
async def gates(request: Request, who: Reader) -> Response:
    """Every gate waiting for a decision, with its instructions and the decide forms."""
    views = await pending_gates(await context_of(request).client())
    return render(request, "gates.html", gates=views, live="/live/gates")


def _release_id(release_id: str) -> str:
    release_id = release_id.strip("/")
    if not release_id or len(release_id) > 300:
        raise PageError(422, "invalid", "not a release id")
    return release_id


async def _build_node(request: Request, release_id: str, node: str) -> NodeResult:
    result = await build_result(await context_of(request).client(), release_id)
    outcome = result.nodes.get(node) if result else None
    if outcome is None:
        raise PageError(404, "not-found", f"{release_id} has no finished build node {node!r}")
    return outcome


def _read_logs(outcome: NodeResult) -> list[str]:
    """Each step's log tail, for logs kept under this machine's logs directory."""
    root = paths.logs_dir().resolve()
    parts = []
    for step in outcome.steps:
        path = Path(step.log_path).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            parts.append(f"== {step.name} (exit {step.exit_code}): log not on this machine\n")
            continue
        with path.open("rb") as handle:
            handle.seek(max(0, path.stat().st_size - LOG_TAIL))
            body = handle.read().decode(errors="replace")
        parts.append(f"== {step.name} (exit {step.exit_code}, {step.duration_s:.1f}s)\n{body}")
    return parts


@router.get("/releases/{release_id:path}/logs", response_class=PlainTextResponse)
async def logs(request: Request, release_id: str, who: Reader, node: str = Query(...)) -> Response:
    """A build node's step logs, when they are kept on this machine."""
    outcome = await _build_node(request, _release_id(release_id), node)
    parts = await asyncio.to_thread(_read_logs, outcome)
    cached = " (cache hit: the logs of the build that produced it)" if outcome.cached else ""
    header = f"# {release_id} · {node}{cached}\n"
    return PlainTextResponse(header + "\n".join(parts) if parts else header + "no steps ran\n")


@router.get("/releases/{release_id:path}/provenance")
async def provenance(
    request: Request, release_id: str, who: Reader, node: str = Query(...)
) -> Response:
    """The verified provenance statement of a build node's artifact (SLSA, in-toto)."""
    outcome = await _build_node(request, _release_id(release_id), node)
    if outcome.artifact is None:
        raise PageError(404, "not-found", f"{node} produced no artifact")
    store = ProvenanceStore(ArtifactStore(paths.artifacts_dir()), paths.home() / "keys")
    try:
        statement = store.load(outcome.artifact.digest)
    except FerrymanError as exc:
        raise PageError(404, "not-found", str(exc)) from None
    return Response(json.dumps(statement, indent=2), media_type="application/json")


@router.get("/releases/{release_id:path}", response_class=HTMLResponse)
async def release(request: Request, release_id: str, who: Reader) -> Response:
    """One release: build DAG, world view, canary charts, gates, audit trail, actions."""
    release_id = _release_id(release_id)
    context = context_of(request)
    settings = context.settings
    page = await release_page(
        await context.client(), release_id, settings.temporal_ui, settings.connection.namespace
    )
    if not page.exists:
        raise PageError(404, "not-found", f"no release {release_id!r}")
    return render(request, "release.html", page=page, live=f"/live/releases/{release_id}")
