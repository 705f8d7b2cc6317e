"""Reading what a browser or a script sent: a form or a JSON object, as plain strings."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from ferryman.server.web.access import PageError

MAX_FIELDS = 50
MAX_VALUE = 4000


async def fields(request: Request) -> dict[str, Any]:
    """The body's fields: a form (urlencoded or multipart) or a JSON object; {} when empty.

    Raises:
        PageError: 422 for a body that is neither, a JSON value that is not an object,
            too many fields, or a value too long.
    """
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form()
        data: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str)}
    else:
        raw = await request.body()
        if not raw.strip():
            return {}
        if kind != "application/json":
            raise PageError(422, "invalid", f"send a form or JSON, not {kind or 'an untyped body'}")
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise PageError(422, "invalid", "the body is not valid JSON") from None
        if not isinstance(data, dict):
            raise PageError(422, "invalid", "the body must be a JSON object")
    if len(data) > MAX_FIELDS:
        raise PageError(422, "invalid", f"too many fields (at most {MAX_FIELDS})")
    for key, value in data.items():
        if key == "inputs" and isinstance(value, dict):
            continue
        if not isinstance(value, str):
            raise PageError(422, "invalid", f"{key}: must be a string")
        if len(value) > MAX_VALUE:
            raise PageError(422, "invalid", f"{key}: too long (at most {MAX_VALUE} characters)")
    return data


def text(data: dict[str, Any], name: str, default: str = "") -> str:
    """A string field (stripped)."""
    value = data.get(name, default)
    return value.strip() if isinstance(value, str) else default


def inputs(data: dict[str, Any]) -> dict[str, str]:
    """Gate inputs: JSON ``{"inputs": {...}}`` or form fields ``input.<name>`` (empty dropped).

    Raises:
        PageError: 422 when an input's value is not a string.
    """
    found: dict[str, str] = {}
    nested = data.get("inputs", {})
    if not isinstance(nested, dict):
        raise PageError(422, "invalid", "inputs: must be an object of strings")
    for key, value in nested.items():
        if not isinstance(value, str):
            raise PageError(422, "invalid", f"inputs.{key}: must be a string")
        found[str(key)] = value.strip()
    for key, value in data.items():
        if key.startswith("input.") and isinstance(value, str):
            found[key.removeprefix("input.")] = value.strip()
    return {k: v for k, v in found.items() if v}


def local_path(target: str, default: str) -> str:
    """``target`` if it is a path on this server (never another site), else ``default``."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default
