"""Slack interactivity: the Approve/Reject buttons of a gate's message.

A request is taken only if its ``X-Slack-Signature`` is the HMAC of
``v0:<timestamp>:<body>`` with the app's signing secret, its
``X-Slack-Request-Timestamp`` is within 5 minutes, and its signature was not
seen before (replays are refused); then the Slack user must map to a ferryman
user (``slack:`` in the config). Refusals are 401 (signature, timestamp,
replay) or 403 (unmapped user) and change nothing. The decision then goes to
the workflow as the mapped user, through the gate's policy like any other.
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any
from urllib.parse import parse_qs

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from slack_sdk.signature import SignatureVerifier
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from ferryman.approvals.policy import GateDecision
from ferryman.approvals.slack import ACTIONS, parse_button_value
from ferryman.identity.config import slack_settings
from ferryman.server.context import context_of
from ferryman.server.errors import ApiError
from ferryman.temporal.client.gates import refusal_of

router = APIRouter(tags=["slack"])
WINDOW_S = 300


def verify(request_body: bytes, timestamp: str, signature: str, secret: str) -> None:
    """Refuse a request not signed by Slack within the window.

    Raises:
        ApiError: 401 with the reason.
    """
    try:
        sent = int(timestamp)
    except ValueError:
        raise ApiError(401, "unauthenticated", "missing or bad X-Slack-Request-Timestamp") from None
    if abs(time.time() - sent) > WINDOW_S:
        raise ApiError(401, "unauthenticated", "stale request (timestamp outside 5 minutes)")
    verifier = SignatureVerifier(secret)
    if not verifier.is_valid(body=request_body, timestamp=timestamp, signature=signature):
        raise ApiError(401, "unauthenticated", "bad Slack signature")


def _payload(body: bytes) -> dict[str, Any]:
    try:
        raw = parse_qs(body.decode())["payload"][0]
        payload = json.loads(raw)
    except (KeyError, IndexError, ValueError, UnicodeDecodeError):
        raise ApiError(422, "invalid", "no interaction payload") from None
    if not isinstance(payload, dict):
        raise ApiError(422, "invalid", "no interaction payload")
    return payload


@router.post("/interactions")
async def interactions(request: Request) -> JSONResponse:
    """Take a button press on a gate's message as that user's decision."""
    context = context_of(request)
    directory = context.directory()
    secret = slack_settings(directory).signing_secret
    if not secret:
        raise ApiError(404, "not-found", "Slack is not configured (no signing secret)")
    body = await request.body()
    signature = request.headers.get("x-slack-signature", "")
    verify(body, request.headers.get("x-slack-request-timestamp", ""), signature, secret)
    if not context.replays.first_time(signature):
        raise ApiError(401, "unauthenticated", "replayed request")
    payload = _payload(body)
    slack_user = str((payload.get("user") or {}).get("id", ""))
    user = directory.by_slack(slack_user) if directory is not None and slack_user else None
    if user is None:
        raise ApiError(403, "forbidden", f"Slack user {slack_user or '?'} is no ferryman user")
    actions = payload.get("actions") or []
    action = actions[0] if actions and isinstance(actions[0], dict) else {}
    verdict = ACTIONS.get(str(action.get("action_id", "")))
    button = parse_button_value(str(action.get("value", "")))
    if verdict is None or button is None:
        raise ApiError(422, "invalid", "not a ferryman gate button")
    decision = GateDecision(gate=button.gate, verdict=verdict, user=user, channel="slack")
    handle = (await context.client()).get_workflow_handle(button.workflow)
    try:
        answer: str = await handle.execute_update("decide", decision, result_type=str)
    except WorkflowUpdateFailedError as exc:
        answer = f"{verdict} refused: {refusal_of(exc.cause).message}"
    except RPCError as exc:
        answer = f"{verdict} refused: {button.workflow} takes no decision now ({exc.message})"
    await _reply(payload.get("response_url"), answer)
    return JSONResponse({"text": answer})


async def _reply(response_url: object, text: str) -> None:
    """Tell the person what happened, only them (best effort)."""
    if not isinstance(response_url, str) or not response_url.startswith("http"):
        return
    with contextlib.suppress(httpx.HTTPError):
        async with httpx.AsyncClient(timeout=5) as http:
            await http.post(
                response_url,
                json={"response_type": "ephemeral", "replace_original": False, "text": text},
            )
