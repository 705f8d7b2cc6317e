"""The dashboard's changes: log in and out, decide gates, steer releases (all POST).

Every change but logging in needs a session and its CSRF token (see
:mod:`.access`). Decisions go through the same client code as the CLI (the
workflow's ``decide`` Update, whose validator applies the gate's policy), and
steering through the typed Update senders of ``temporal/client/decisions.py``.
A browser is sent back to the page it came from with the answer, or the
reason for a refusal, shown on top; other clients get JSON and a 4xx status.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from temporalio.client import Client

from ferryman.approvals.policy import GateDecision
from ferryman.errors import ReleaseError
from ferryman.server.context import context_of
from ferryman.server.errors import STATUS
from ferryman.server.web.access import PageError, Visitor, actor, keep_session, visitor, wants_html
from ferryman.server.web.forms import fields, inputs, local_path, text
from ferryman.server.web.session import Session, csrf_matches, fingerprint, new_csrf
from ferryman.server.web.templating import release_url, render
from ferryman.temporal.client import decisions
from ferryman.temporal.client.gates import GateRefused, decide
from ferryman.temporal.client.views import describe, status_name
from ferryman.temporal.models.region import Decision

router = APIRouter(tags=["dashboard"], include_in_schema=False)
Actor = Annotated[Visitor, Depends(actor)]
ACTIONS = ("pause", "resume", "promote", "rollback", "abort")
VERDICTS = {"approve": "approve", "reject": "reject"}


def answer(
    request: Request,
    message: str,
    status: int = 200,
    kind: str = "ok",
    *,
    back: str,
    **extra: Any,
) -> Response:
    """Tell the client what happened: a redirect with a message for browsers, else JSON."""
    if wants_html(request):
        found = visitor(request)
        found.update(found.session.with_flash(message, "ok" if status < 400 else "error"))
        return keep_session(request, RedirectResponse(back, status_code=303))
    if status >= 400:
        return keep_session(request, JSONResponse({"error": message, "kind": kind}, status))
    return keep_session(request, JSONResponse({"answer": message, **extra}, status))


async def _refusal(
    client: Client, release_id: str, action: str, exc: ReleaseError
) -> tuple[str, int, str]:
    """(message, status, kind) of a refused action: 404 without the release, else 409."""
    description = await describe(client, release_id)
    if description is None:
        return f"{action} refused: no release {release_id!r}", 404, "not-found"
    message = str(exc)
    if "no running release" in message:
        state = status_name(description.status)
        message = f"{action} refused: {release_id} already finished ({state})"
    return message, 409, "conflict"


@router.get("/login")
async def login_form(request: Request, next: str = "/releases") -> Response:
    """The login form: a user's API token (``ferryman users add`` prints one)."""
    return render(request, "login.html", next=local_path(next, "/releases"), error="")


@router.post("/login")
async def login(request: Request) -> Response:
    """Exchange a token for a session cookie; the CSRF token of the visit must come along."""
    found = visitor(request)
    data = await fields(request)
    target = local_path(text(data, "next", "/releases"), "/releases")
    if not csrf_matches(found.session, text(data, "csrf") or request.headers.get("x-csrf-token")):
        raise PageError(403, "forbidden", "missing or wrong CSRF token (reload the page)")
    token = text(data, "token")
    directory = context_of(request).directory()
    user = directory.authenticate(token) if directory is not None and token else None
    if user is None or directory is None:
        message = "unknown token" if token else "paste your API token"
        if wants_html(request):
            return render(request, "login.html", status=401, next=target, error=message)
        raise PageError(401, "unauthenticated", message)
    found.update(Session(user=user, key=fingerprint(directory.users[user].token), csrf=new_csrf()))
    return answer(request, f"logged in as {user}", back=target, user=user)


@router.post("/logout")
async def logout(request: Request, who: Actor) -> Response:
    """End the session."""
    who.update(Session(csrf=new_csrf()))
    return answer(request, "logged out", back="/login")


@router.post("/releases/{release_id:path}/gates/{gate}/{verdict}")
async def decide_gate(
    request: Request, release_id: str, gate: str, verdict: str, who: Actor
) -> Response:
    """Approve or reject a gate as the logged-in user; the gate's policy judges it."""
    if verdict not in VERDICTS:
        raise PageError(404, "not-found", f"no such decision {verdict!r} (approve or reject)")
    data = await fields(request)
    back = local_path(text(data, "next"), release_url(release_id))
    try:
        decision = GateDecision(
            gate=gate,
            verdict="approve" if verdict == "approve" else "reject",
            user=who.user,
            comment=text(data, "comment"),
            inputs=inputs(data),
            channel="web",
        )
    except ValidationError as exc:
        raise PageError(422, "invalid", exc.errors()[0]["msg"]) from None
    region = text(data, "region") or None
    client = await context_of(request).client()
    try:
        said = await decide(client, release_id, decision, region)
    except GateRefused as exc:
        return answer(request, exc.message, back=back, status=STATUS[exc.kind], kind=exc.kind)
    return answer(request, f"gate {gate}: {said}", back=back, gate=gate, user=who.user)


@router.post("/releases/{release_id:path}/actions/{action}")
async def steer(request: Request, release_id: str, action: str, who: Actor) -> Response:
    """Pause, resume, promote, roll back or abort a release as the logged-in user."""
    if action not in ACTIONS:
        raise PageError(404, "not-found", f"no such action {action!r} ({', '.join(ACTIONS)})")
    data = await fields(request)
    back = local_path(text(data, "next"), release_url(release_id))
    reason = text(data, "reason")
    if len(reason) > 2000:
        raise PageError(422, "invalid", "reason: too long (at most 2000 characters)")
    decision = Decision(by=who.user, reason=reason or f"{action} from the dashboard")
    client = await context_of(request).client()
    try:
        if action == "promote":
            said = "; ".join(
                await decisions.promote(client, release_id, decision, text(data, "region") or None)
            )
        elif action == "rollback":
            said = await decisions.rollback(client, release_id, decision)
        else:
            said = await decisions.steer(client, release_id, action, decision)
    except ReleaseError as exc:
        return answer(request, *await _refusal(client, release_id, action, exc), back=back)
    return answer(request, f"{action}: {said}", back=back, action=action, user=who.user)
