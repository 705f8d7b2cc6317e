"""The remote codec the Temporal Web UI decodes payloads with: ``/codec/{encode,decode}``.

With an ``encryption:`` section in ferryman's config, every payload in
Temporal's history is AES-256-GCM ciphertext. The Web UI, configured with this
endpoint and "pass access token", sends the ciphertext here with the user's
ferryman token (``Authorization: Bearer fm_…``) and shows what comes back::

    POST /codec/decode
    {"payloads": [{"metadata": {"encoding": "<base64>", …}, "data": "<base64>"}]}

Bodies are Temporal's ``Payloads`` in protobuf JSON (bytes as base64). A
browser logged in to ferryman's dashboard may send its session cookie instead
of a token (the Web UI's "include cross-origin credentials"). Without either,
or with a token of nobody: 401. The browser's CORS preflight is answered
for the configured Web UI origin (``encryption.web-ui-origin``, else the origin
of the server's ``--temporal-ui``); answers carry the CORS headers too, so the
UI can show a refusal.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Request, Response
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from ferryman.identity.config import IdentityError
from ferryman.identity.encryption import encryption_keys
from ferryman.server.auth import authenticated_user
from ferryman.server.context import ServerContext, context_of
from ferryman.server.errors import ApiError, error_response
from ferryman.server.web.access import visitor
from ferryman.temporal.codec import AESGCMCodec, CodecError
from ferryman.temporal.converter import codec_for

router = APIRouter(tags=["codec"])

ALLOWED_HEADERS = "Authorization, Content-Type, X-Namespace"


def _origin_of(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def _web_ui_origin(context: ServerContext) -> str | None:
    directory = context.directory()
    settings = directory.encryption if directory is not None else None
    configured = settings.web_ui_origin if settings is not None else None
    return _origin_of(configured) or _origin_of(context.settings.temporal_ui)


def _cors(request: Request) -> dict[str, str]:
    origin = request.headers.get("origin")
    if origin is None or origin.rstrip("/") != _web_ui_origin(context_of(request)):
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Credentials": "true",
        "Vary": "Origin",
    }


def _codec(context: ServerContext) -> AESGCMCodec:
    directory = context.directory()
    try:
        keys = encryption_keys(directory, context.config_path.parent)
    except IdentityError as exc:
        raise ApiError(503, "unavailable", str(exc)) from None
    if keys is None:
        raise ApiError(404, "not-found", "payload encryption is not configured (no encryption:)")
    return codec_for(keys)


@router.options("/codec/{action}")
async def preflight(request: Request, action: str) -> Response:
    """The browser's CORS preflight, answered for the Web UI's origin only."""
    cors = _cors(request)
    if action not in {"encode", "decode"} or not cors:
        return Response(status_code=403)
    headers = {
        **cors,
        "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": ALLOWED_HEADERS,
        "Access-Control-Max-Age": "600",
    }
    return Response(status_code=204, headers=headers)


def _user(request: Request) -> str:
    """The bearer token's user, else the dashboard session's.

    Raises:
        ApiError: 401: neither names a user.
    """
    if not request.headers.get("authorization") and visitor(request).user:
        return visitor(request).user
    return authenticated_user(request)


async def _answer(request: Request, encode: bool) -> Response:
    cors = _cors(request)
    try:
        _user(request)
        codec = _codec(context_of(request))
        try:
            payloads = json_format.Parse(await request.body(), Payloads())
        except json_format.ParseError as exc:
            raise ApiError(422, "invalid", f"not a payloads body: {exc}") from None
        try:
            if encode:
                done = await codec.encode(list(payloads.payloads))
            else:
                done = await codec.decode(list(payloads.payloads))
        except CodecError as exc:
            raise ApiError(422, "invalid", str(exc)) from None
    except ApiError as exc:
        refused = error_response(exc.status, exc.kind, exc.message)
        refused.headers.update(cors)
        return refused
    body = json_format.MessageToJson(Payloads(payloads=done), indent=None)
    return Response(body, media_type="application/json", headers=cors)


@router.post("/codec/encode")
async def encode(request: Request) -> Response:
    """Encrypt payloads with the active key (needs a bearer token)."""
    return await _answer(request, encode=True)


@router.post("/codec/decode")
async def decode(request: Request) -> Response:
    """Decrypt payloads with the key each names (needs a bearer token)."""
    return await _answer(request, encode=False)
