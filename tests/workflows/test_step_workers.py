"""Teams' steps without a worker, and webhook steps against a local HTTP server.

A step whose task queue nobody polls is reported ``waiting for a worker on <queue>``
(in the progress query and in the memo ``ferryman status`` falls back on), and
goes on as soon as a worker comes; a rollback does not wait for it. A webhook
step is made by ferryman's own worker: its answer is recorded, a wrong status or
no answer in time fails the step, and secrets stay out of the history.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from temporalio.client import WorkflowFailureError

from ferryman.plan.custom_steps import SecretPlan, WebhookPlan
from ferryman.temporal.client.releases import release_progress
from ferryman.temporal.models.region import Decision
from ferryman.temporal.workflows.release import ReleaseWorkflow
from ferryman.testing import free_port

from .conftest import Saga
from .step_helpers import Team, progress_until, step, team_worker


async def test_a_step_nobody_serves_says_so_and_goes_on_once_a_worker_comes(saga: Saga) -> None:
    team = Team(saga.provider, queue=f"payments-ops-{uuid.uuid4().hex[:8]}")
    steps = (step(team, "migrate", "before-wave", 2, worker_wait_s=1),)
    handle = await saga.start(saga.plan("v2", steps=steps))
    progress = await progress_until(
        handle, lambda p: bool(p.steps) and p.steps[0].waiting, "a step waiting for a worker"
    )
    (view,) = progress.steps
    assert view.status == "waiting-for-worker"
    assert view.waiting == f"waiting for a worker on {team.queue}"
    assert progress.waiting_for == f"a worker on {team.queue} (step migrate)"
    # The memo, which `ferryman status` shows when no worker answers, says it too.
    description = await handle.describe()
    memo = (await description.memo())["progress"]
    assert memo["steps"][0]["waiting"] == f"waiting for a worker on {team.queue}"
    assert any(f"is waiting for a worker on {team.queue}" in e.message for e in progress.events)
    async with team_worker(saga.env.client, team):
        result = await handle.result()
    assert result.status == "succeeded"
    (view,) = result.steps
    assert view.status == "succeeded" and view.waiting == ""
    assert team.calls() == ["run migrate"]


async def test_a_rollback_does_not_wait_for_a_missing_worker(saga: Saga) -> None:
    team = Team(saga.provider)
    nobody = f"nobody-{uuid.uuid4().hex[:8]}"
    steps = (
        step(team, "a1", "after-wave", 1),
        step(nobody, "migrate", "before-wave", 2, worker_wait_s=1, undo=False),
    )
    start = len(saga.provider.calls)
    async with team_worker(saga.env.client, team):
        handle = await saga.start(saga.plan("v2", steps=steps))
        await progress_until(handle, lambda p: "a worker on nobody" in p.waiting_for, "waiting")
        await handle.execute_update(ReleaseWorkflow.rollback, Decision(by="cy", reason="later"))
        assert (await handle.result()).status == "rolled-back"
    assert team.timeline(start) == [
        "route eu-1 switch",
        "run a1",
        "compensate a1",
        "route eu-1 restore",
    ]
    progress, _ = await release_progress(saga.env.client, handle.id)
    assert progress is not None
    status = {v.name: (v.status, v.error) for v in progress.steps}
    assert status == {"a1": ("compensated", ""), "migrate": ("failed", "cancelled")}


@dataclass
class Hooks:
    """A local HTTP service a team exposes: what it answers, and what it was sent."""

    url: str
    seen: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
async def hooks() -> AsyncIterator[Hooks]:
    seen: list[dict[str, Any]] = []

    async def record(request: web.Request) -> None:
        body = await request.text()
        seen.append(
            {
                "path": request.path,
                "method": request.method,
                "headers": dict(request.headers),
                "body": json.loads(body) if body else None,
            }
        )

    async def ok(request: web.Request) -> web.Response:
        await record(request)
        return web.json_response({"ok": True, "migrated": 12})

    async def teapot(request: web.Request) -> web.Response:
        await record(request)
        return web.Response(status=418, text="I'm a teapot")

    async def slow(request: web.Request) -> web.Response:
        await record(request)
        await asyncio.sleep(10)
        return web.json_response({"ok": True})

    app = web.Application()
    app.add_routes(
        [web.route("*", "/ok", ok), web.post("/teapot", teapot), web.post("/slow", slow)]
    )
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield Hooks(url=f"http://127.0.0.1:{port}", seen=seen)
    await runner.cleanup()


def hook(hooks: Hooks, path: str, **changes: Any) -> WebhookPlan:
    return WebhookPlan.model_validate({"url": hooks.url + path, "timeout_s": 5, **changes})


async def test_a_webhook_step_succeeds_and_its_answer_is_recorded(
    saga: Saga, hooks: Hooks, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYMENTS_TOKEN", "s3cr3t-token")
    call = hook(
        hooks,
        "/ok",
        headers={"Authorization": "Bearer ${{ secrets.token }}"},
        secrets={"token": SecretPlan(env="PAYMENTS_TOKEN")},
        input={"ticket": "CHG-1"},
        expect_status=(200,),
        expect_body=r'"ok":\s*true',
    )
    steps = (step("unused", "notify", "after-region", via=call, undo=False),)
    handle = await saga.start(saga.plan("v2", steps=steps, waves=saga.plan("v2").deploy.waves[:1]))
    result = await handle.result()
    assert result.status == "succeeded"
    (view,) = result.steps
    assert view.kind == "webhook" and view.target == f"POST {hooks.url}/ok"
    assert view.result is not None and isinstance(view.result, dict)
    assert view.result["status"] == 200 and view.result["parsed"] == {"ok": True, "migrated": 12}
    (request,) = hooks.seen
    assert request["headers"]["Authorization"] == "Bearer s3cr3t-token"
    assert request["headers"]["Idempotency-Key"].endswith("/eu-1/step/notify")
    assert request["body"]["step"] == "notify" and request["body"]["region"] == "eu-1"
    assert request["body"]["input"] == {"ticket": "CHG-1"}
    history = json.dumps((await handle.fetch_history()).to_json_dict())
    assert "s3cr3t-token" not in history, "a secret reached the workflow's history"


async def test_a_webhook_with_a_wrong_status_fails_the_step_and_rolls_back(
    saga: Saga, hooks: Hooks
) -> None:
    steps = (step("unused", "notify", "after-wave", 1, via=hook(hooks, "/teapot"), undo=False),)
    handle = await saga.start(saga.plan("v2", steps=steps))
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    message = str(failure.value.cause)
    assert f"step notify failed: POST {hooks.url}/teapot: answered 418, expected 2xx" in message
    assert "I'm a teapot" in message
    assert saga.restored_order() == ["eu-1"] and saga.serving("eu-1") == {"v1": 100}


async def test_a_webhook_that_does_not_answer_in_time_fails_the_step(
    saga: Saga, hooks: Hooks
) -> None:
    call = hook(hooks, "/slow", timeout_s=0.5, retries=1)
    steps = (step("unused", "notify", "before-environment", via=call, undo=False),)
    handle = await saga.start(saga.plan("v2", steps=steps))
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    assert f"POST {hooks.url}/slow: no answer within 0.5s" in str(failure.value.cause)
    assert len(hooks.seen) == 2, "one retry"
    assert saga.serving("eu-1") == {"v1": 100}, "nothing was deployed"


async def test_a_missing_secret_fails_at_once_without_retrying(saga: Saga, hooks: Hooks) -> None:
    call = hook(
        hooks,
        "/ok",
        headers={"X-Token": "${{ secrets.token }}"},
        secrets={"token": SecretPlan(env="FERRYMAN_TEST_UNSET_SECRET")},
        retries=3,
    )
    steps = (step("unused", "notify", "before-environment", via=call, undo=False),)
    with pytest.raises(WorkflowFailureError) as failure:
        await (await saga.start(saga.plan("v2", steps=steps))).result()
    assert "environment variable FERRYMAN_TEST_UNSET_SECRET is not set on this worker" in str(
        failure.value.cause
    )
    assert hooks.seen == []
