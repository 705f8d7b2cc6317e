"""Slack: the gate's message reaches a local stand-in of Slack's Web API with its buttons;
signed button presses approve; bad signatures, stale timestamps, replays and unmapped
Slack users are refused with 401/403 and change nothing.

Real dev server, real workers and agent; the HTTP API runs in-process (ASGI).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from temporalio.client import Client

from ferryman.approvals.slack import APPROVE, REJECT
from ferryman.identity.config import add_user, ensure_demo_config, load_directory
from ferryman.plan.compile import compile_plan
from ferryman.server import ServerSettings, create_app
from ferryman.spec.load import load_spec
from ferryman.temporal.worker.workers import local_providers
from ferryman.temporal.workflows.release import ReleaseWorkflow
from ferryman.testing import AgentProcess
from ferryman.testing.workers import serving

from .slack_standin import SlackStandIn

pytestmark = pytest.mark.integration

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
GATE = """
    gates:
      go-live:
        at: before-environment
        approvers: [release-managers]
        required: 2
        instructions: "Check the staging dashboard first."
        channel: "#releases"
"""


@pytest.fixture
def gated_spec(hello_spec: Path) -> Path:
    """The hello example with a two-approver gate posted to #releases."""
    hello_spec.write_text(hello_spec.read_text() + GATE)
    return hello_spec


@pytest.fixture
async def slack(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SlackStandIn]:
    standin = await SlackStandIn().start()
    monkeypatch.setenv("FERRYMAN_SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("FERRYMAN_SLACK_API_URL", standin.api_url)
    monkeypatch.setenv("FERRYMAN_SLACK_SIGNING_SECRET", SECRET)
    yield standin
    await standin.stop()


def signed(body: str, timestamp: int | None = None, secret: str = SECRET) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def press(slack_user: str, action: str, value: str, response_url: str) -> str:
    payload = {
        "type": "block_actions",
        "user": {"id": slack_user},
        "actions": [{"action_id": action, "value": value}],
        "response_url": response_url,
        "trigger_id": str(uuid.uuid4()),
    }
    return urlencode({"payload": json.dumps(payload)})


async def test_slack_posts_the_gate_and_signed_presses_decide_it(
    dev_client: Client,
    agent: AgentProcess,
    gated_spec: Path,
    ferryman_home: Path,
    slack: SlackStandIn,
    tmp_path: Path,
) -> None:
    ensure_demo_config()
    add_user("carol", groups=("release-managers",), slack="U0CAROL")
    add_user("dan", groups=("release-managers",), slack="U0DAN")
    add_user("eve", slack="U0EVE")
    directory = load_directory()
    plan = compile_plan(
        load_spec(gated_spec, directory),
        gated_spec,
        "dev",
        "s1",
        directory=directory,
        requested_by="alice",
    )
    app = create_app(ServerSettings(client=dev_client, state_dir=tmp_path / "server"))
    transport = httpx.ASGITransport(app=app)
    async with (
        serving(dev_client, local_providers(agent.url), ["local-1"]) as queue,
        httpx.AsyncClient(transport=transport, base_url="http://ferryman") as http,
    ):
        handle = await dev_client.start_workflow(
            ReleaseWorkflow.run, plan, id=f"release/hello/dev/{uuid.uuid4()}", task_queue=queue
        )
        post = await slack.wait_for("chat.postMessage")
        assert post.token == "xoxb-test" and post.body["channel"] == "#releases"
        blocks = post.body["blocks"]
        assert "gate *go-live*" in blocks[0]["text"]["text"] and handle.id in str(blocks[0])
        assert any("Check the staging dashboard first." in str(b) for b in blocks)
        actions = next(b for b in blocks if b["type"] == "actions")
        buttons = {e["action_id"]: e for e in actions["elements"]}
        assert set(buttons) == {APPROVE, REJECT}
        assert buttons[APPROVE]["style"] == "primary" and buttons[REJECT]["style"] == "danger"
        value = buttons[APPROVE]["value"]
        assert json.loads(value) == {"workflow": handle.id, "gate": "go-live"}

        async def events() -> list[tuple[str, str]]:
            return [(e.kind, e.user) for e in await handle.query(ReleaseWorkflow.audit)]

        deadline = time.monotonic() + 30
        while ("notified", "ferryman") not in await events():
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        before = await events()
        url = "/slack/interactions"

        carol = press("U0CAROL", APPROVE, value, slack.response_url)
        wrong = await http.post(url, content=carol, headers=signed(carol, secret="not-the-secret"))
        assert wrong.status_code == 401 and wrong.json()["error"] == "bad Slack signature"
        stale = await http.post(url, content=carol, headers=signed(carol, int(time.time()) - 400))
        assert stale.status_code == 401 and "stale" in stale.json()["error"]
        eve = press("U0EVE", APPROVE, value, slack.response_url)
        outsider = press("U0NOBODY", APPROVE, value, slack.response_url)
        unmapped = await http.post(url, content=outsider, headers=signed(outsider))
        assert unmapped.status_code == 403
        assert unmapped.json()["error"] == "Slack user U0NOBODY is no ferryman user"
        assert await events() == before, "refused requests changed nothing"

        headers = signed(carol)
        taken = await http.post(url, content=carol, headers=headers)
        assert taken.status_code == 200, taken.text
        assert taken.json()["text"].endswith("gate go-live: 1 of 2 approval(s) (carol)")
        after_carol = await events()
        replay = await http.post(url, content=carol, headers=headers)
        assert replay.status_code == 401 and replay.json()["error"] == "replayed request"
        assert await events() == after_carol, "the replay changed nothing"

        not_approver = await http.post(url, content=eve, headers=signed(eve))
        assert not_approver.status_code == 200
        assert "eve may not decide gate go-live" in not_approver.json()["text"]
        assert "eve may not decide" in slack.replies[-1]["text"], "told through response_url"
        assert await events() == after_carol, "the policy's refusal changed nothing"

        dan = press("U0DAN", APPROVE, value, slack.response_url)
        second = await http.post(url, content=dan, headers=signed(dan))
        assert second.json()["text"].endswith("gate go-live: approved by carol, dan")
        result = await asyncio.wait_for(handle.result(), timeout=120)
        assert result.status == "succeeded"
        update = await slack.wait_for("chat.update")
        assert update.body["ts"] == post.answer["ts"]
        assert update.body["channel"] == post.answer["channel"]
        assert "approved by carol, dan" in str(update.body["blocks"])
        assert not any(b["type"] == "actions" for b in update.body["blocks"]), "buttons removed"
        trail = await handle.query(ReleaseWorkflow.audit)
        approvals = [(e.user, e.channel) for e in trail if e.kind == "approved"]
        assert approvals == [("carol", "slack"), ("dan", "slack")]
