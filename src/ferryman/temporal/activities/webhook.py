"""``ferryman.webhook``: a team's step that is an HTTP call, made by ferryman's own worker.

The request carries the step's payload (``CustomStepInput``, as JSON) unless the
spec gives a ``body``, plus ``Idempotency-Key: <key>`` so a retried call can be
recognised. Secrets are read here, when the call is made (an environment
variable or a file of this worker), and only ever go into headers: they never
enter the plan, the workflow's input, its history, the result or an error.

A wrong status, a body that does not match, no answer within the timeout, or a
server that cannot be reached fails the attempt with a one-line error; the
step's ``retries`` then apply. A missing secret fails at once (no retry fixes it).
"""

from __future__ import annotations

import asyncio
import json
import re
import time

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from ferryman.plan.custom_steps import WebhookPlan
from ferryman.spec.custom_steps import secret_names
from ferryman.temporal.activities.secrets import read_secret
from ferryman.temporal.models.custom import WebhookInput, WebhookResult

BODY_KEPT = 2000
_SECRET = re.compile(r"\$\{\{\s*secrets\.([A-Za-z0-9_-]+)\s*\}\}")
_NO_BODY = frozenset({"GET", "DELETE"})


def headers_of(call: WebhookPlan) -> dict[str, str]:
    """The request's headers with every ``${{ secrets.NAME }}`` replaced by its value."""
    values = {
        name: read_secret(name, call.secrets[name], "WebhookSecret")
        for text in call.headers.values()
        for name in secret_names(text)
    }
    return {
        header: _SECRET.sub(lambda m: values[m.group(1)], text)
        for header, text in call.headers.items()
    }


def _fail(call: WebhookPlan, what: str, kind: str) -> ApplicationError:
    return ApplicationError(f"{call.method} {call.url}: {what}", type=kind)


def _excerpt(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _check(call: WebhookPlan, response: httpx.Response) -> None:
    status = response.status_code
    ok = status in call.expect_status if call.expect_status else 200 <= status < 300
    if not ok:
        wanted = ", ".join(map(str, call.expect_status)) or "2xx"
        body = _excerpt(response.text)
        raise _fail(call, f"answered {status}, expected {wanted}: {body}", "WebhookStatus")
    if call.expect_body is not None and not re.search(call.expect_body, response.text):
        raise _fail(
            call,
            f"answer does not match {call.expect_body!r}: {_excerpt(response.text)}",
            "WebhookBody",
        )


@activity.defn(name="ferryman.webhook")
async def webhook(request: WebhookInput) -> WebhookResult:
    """Make the call; its answer is the step's result.

    Raises:
        ApplicationError: The answer is not what the step expects, or none came.
    """
    call = request.call
    headers = {
        "Idempotency-Key": request.payload.key,
        "X-Ferryman-Release": request.payload.release_id,
        **headers_of(call),
    }
    content: bytes | None = None
    if call.method not in _NO_BODY or call.body is not None:
        body = call.body if call.body is not None else request.payload.model_dump(mode="json")
        content = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    started = time.monotonic()
    try:
        async with (
            asyncio.timeout(call.timeout_s),
            httpx.AsyncClient(timeout=call.timeout_s) as http,
        ):
            response = await http.request(call.method, call.url, content=content, headers=headers)
    except (httpx.TimeoutException, TimeoutError):
        raise _fail(call, f"no answer within {call.timeout_s:g}s", "WebhookTimeout") from None
    except httpx.HTTPError as exc:
        raise _fail(
            call, f"unreachable ({type(exc).__name__}: {exc})", "WebhookUnreachable"
        ) from None
    _check(call, response)
    try:
        parsed = response.json() if response.content else None
    except ValueError:
        parsed = None
    return WebhookResult(
        method=call.method,
        url=call.url,
        status=response.status_code,
        body=response.text[:BODY_KEPT],
        parsed=parsed,
        elapsed_s=round(time.monotonic() - started, 3),
    )


WEBHOOK_ACTIVITIES = (webhook,)
"""Served by the central worker (release steps) and every region worker (region steps)."""
