"""The dashboard's endpoints over real HTTP, against a real release held at a real gate.

Every endpoint is called unauthenticated, unauthorized, without or with a wrong
CSRF token, and malformed: each answer is a clear 4xx, and the gate, its audit
trail and the release are unchanged afterwards. Then each change is made for
real: pause, resume, approve (the release finishes), abort and roll back.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from ferryman.identity.config import demo_token, ensure_demo_config, load_directory, save_directory
from ferryman.plan.compile import compile_plan
from ferryman.spec.load import load_spec
from ferryman.temporal.client.gates import pending_gates, release_audit
from ferryman.temporal.client.releases import start_release
from ferryman.temporal.models.region import Decision
from ferryman.temporal.worker.workers import local_providers
from ferryman.temporal.workflows.release import ReleaseWorkflow
from ferryman.testing import AgentProcess
from ferryman.testing.workers import serving

from .dashboard_helpers import dashboard, log_in

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

GATE = """
    gates:
      go-live:
        at: before-environment
        approvers: [release-managers]
        instructions: "Check the staging dashboard first."
        inputs: {ticket: {pattern: "CHG-[0-9]+", required: true}}
"""


@dataclass
class Stack:
    client: Client
    base: str
    queue: str
    spec: Path
    config: Path

    def token(self, user: str) -> str:
        return demo_token(user, self.config)

    async def gated_release(self) -> str:
        directory = load_directory(self.config)
        plan = compile_plan(
            load_spec(self.spec, directory),
            self.spec,
            "dev",
            directory=directory,
            requested_by="alice",
        )
        handle = await start_release(self.client, plan, task_queue=self.queue)
        await until(lambda: pending_gates(self.client, handle.id), "the gate opened")
        return handle.id

    def http(self, **headers: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base, timeout=60, headers=headers)


async def until(check: Any, what: str, timeout_s: float = 120) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not (value := await check()):
        assert asyncio.get_running_loop().time() < deadline, f"{what}: not reached in time"
        await asyncio.sleep(0.2)
    return value


@pytest.fixture
def gated_spec(hello_spec: Path) -> Path:
    hello_spec.write_text(hello_spec.read_text() + GATE)
    return hello_spec


@pytest.fixture
async def stack(
    dev_client: Client, agent: AgentProcess, gated_spec: Path, ferryman_home: Path
) -> AsyncIterator[Stack]:
    config = ensure_demo_config().config
    async with (
        serving(dev_client, local_providers(agent.url), ["local-1"]) as queue,
        dashboard(dev_client, config, ferryman_home / "server", "http://ui.test:8233") as base,
    ):
        yield Stack(dev_client, base, queue, gated_spec, config)


def refused(response: httpx.Response, status: int, text: str) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert text in body["error"], body
    assert "Traceback" not in response.text


async def unchanged(stack: Stack, release: str) -> None:
    [gate] = await pending_gates(stack.client, release)
    assert gate.approvals == () and gate.status == "open"
    trail = await release_audit(stack.client, release)
    assert [(e.kind, e.user) for e in trail] == [("opened", "ferryman")]
    progress = await stack.client.get_workflow_handle_for(ReleaseWorkflow.run, release).query(
        ReleaseWorkflow.progress
    )
    assert progress.phase == "awaiting-approval"
    assert not any("paus" in e.message for e in progress.events)


async def test_every_endpoint_refuses_what_it_must_and_changes_nothing(stack: Stack) -> None:
    release = await stack.gated_release()
    page = f"/releases/{release}"
    approve = f"{page}/gates/go-live/approve"
    good = {"comment": "ok", "inputs": {"ticket": "CHG-1"}}

    async with stack.http() as anonymous:
        # read-only pages: login needed (JSON 401; a browser is sent to the login form)
        reads = ("/releases", page, "/gates", f"/live/releases/{release}", "/live/gates")
        reads += ("/live/releases", f"{page}/logs?node=hello", f"{page}/provenance?node=hello")
        for path in reads:
            refused(await anonymous.get(path), 401, "log in first")
        browser = await anonymous.get(page, headers={"Accept": "text/html"})
        assert browser.status_code == 303
        assert browser.headers["location"] == f"/login?next=/releases/{release}"
        assert (await anonymous.get("/")).headers["location"] == "/releases"
        # changes: no session
        refused(await anonymous.post(approve, json=good), 401, "log in first")
        refused(await anonymous.post(f"{page}/actions/pause", data={}), 401, "log in first")
        refused(await anonymous.post("/logout"), 401, "log in first")
        # the API's bearer token is no dashboard session
        bearer = {"Authorization": f"Bearer {stack.token('demo-approver')}"}
        refused(await anonymous.post(approve, json=good, headers=bearer), 401, "log in first")
        # a forged session cookie is nobody
        anonymous.cookies.set("ferryman_session", "eyJ1IjoiZGVtby1hcHByb3ZlciJ9.forged.sig")
        refused(await anonymous.get("/releases"), 401, "log in first")

    async with stack.http() as http:
        form = await http.get("/login")
        assert form.status_code == 200 and 'name="token"' in form.text
        # login: CSRF first, then the token
        refused(await http.post("/login", data={"token": stack.token("bob")}), 403, "CSRF")
        csrf = form.text.split('name="csrf" value="')[1].split('"')[0]
        refused(
            await http.post("/login", data={"csrf": csrf, "token": "fm_nope"}), 401, "unknown token"
        )
        refused(await http.post("/login", data={"csrf": csrf}), 401, "paste your API token")
        shown = await http.post(
            "/login", data={"csrf": csrf, "token": "fm_nope"}, headers={"Accept": "text/html"}
        )
        assert shown.status_code == 401 and "unknown token" in shown.text
        refused(
            await http.post("/login", content=b"[1]", headers={"Content-Type": "application/json"}),
            422,
            "JSON object",
        )

    async with stack.http() as bob:
        bob_csrf = await log_in(bob, stack.token("bob"))
        listed = await bob.get("/releases", headers={"Accept": "text/html"})
        assert release in listed.text
        # CSRF: none, wrong, from another origin
        refused(await bob.post(approve, json=good), 403, "CSRF")
        refused(await bob.post(approve, json=good, headers={"X-CSRF-Token": "x" * 32}), 403, "CSRF")
        refused(await bob.post(approve, data={**good, "csrf": "wrong"}), 403, "CSRF")
        refused(
            await bob.post(
                approve, json=good, headers={"X-CSRF-Token": bob_csrf, "Origin": "http://evil.test"}
            ),
            403,
            "cross-origin",
        )
        ok = {"X-CSRF-Token": bob_csrf}
        # unauthorized by the gate's policy (bob is no release manager)
        refused(
            await bob.post(approve, json=good, headers=ok), 403, "bob may not decide gate go-live"
        )
        # malformed
        bad_json = {**ok, "Content-Type": "application/json"}
        refused(await bob.post(approve, content=b"{", headers=bad_json), 422, "not valid JSON")
        refused(await bob.post(approve, content=b'"x"', headers=bad_json), 422, "JSON object")
        refused(
            await bob.post(approve, content=b"x=1", headers={**ok, "Content-Type": "text/plain"}),
            422,
            "send a form or JSON",
        )
        refused(
            await bob.post(approve, json={"comment": 7}, headers=ok),
            422,
            "comment: must be a string",
        )
        refused(
            await bob.post(approve, json={"inputs": {"ticket": 1}}, headers=ok),
            422,
            "inputs.ticket",
        )
        refused(
            await bob.post(approve, json={"comment": "x" * 2500}, headers=ok), 422, "at most 2000"
        )
        refused(
            await bob.post(f"{page}/gates/go-live/maybe", json=good, headers=ok),
            404,
            "approve or reject",
        )
        refused(
            await bob.post(f"{page}/actions/explode", json={}, headers=ok), 404, "no such action"
        )
        refused(
            await bob.post(f"{page}/actions/pause", json={"reason": "r" * 2500}, headers=ok),
            422,
            "too long",
        )
        refused(await bob.get("/releases?phase=x' OR '1'='1"), 422, "phase")
        refused(await bob.get("/releases/release/nope/dev/1"), 404, "no release")
        refused(await bob.get(f"{page}/logs?node=nope"), 404, "no finished build node")
        refused(await bob.get(f"{page}/logs"), 422, "node")
        refused(
            await bob.post(
                "/releases/release/nope/dev/1/gates/go-live/approve", json=good, headers=ok
            ),
            404,
            "no running release",
        )
        refused(
            await bob.post("/releases/release/nope/dev/1/actions/pause", json={}, headers=ok),
            404,
            "no release",
        )
        refused(
            await bob.post(f"{page}/actions/promote", json={}, headers=ok),
            409,
            "nothing to promote",
        )
        refused(await bob.post(f"{page}/actions/resume", json={}, headers=ok), 409, "not paused")

    async with stack.http() as alice:
        alice_csrf = await log_in(alice, stack.token("alice"))
        ok = {"X-CSRF-Token": alice_csrf}
        refused(await alice.post(approve, json=good, headers=ok), 403, "separation of duties")
    async with stack.http() as approver:
        ok = {"X-CSRF-Token": await log_in(approver, stack.token("demo-approver"))}
        refused(await approver.post(approve, json={}, headers=ok), 422, "needs input ticket")
        refused(
            await approver.post(approve, json={"inputs": {"ticket": "chg-1"}}, headers=ok),
            422,
            "does not match",
        )
        refused(
            await approver.post(f"{page}/gates/nope/approve", json=good, headers=ok),
            404,
            "has no gate nope",
        )
    await unchanged(stack, release)


async def test_pages_streams_and_every_change_for_real(stack: Stack) -> None:
    release = await stack.gated_release()
    page = f"/releases/{release}"
    async with stack.http() as http:
        csrf = await log_in(http, stack.token("demo-approver"))
        ok = {"X-CSRF-Token": csrf}
        html = {"Accept": "text/html"}
        shown = (await http.get(page, headers=html)).text
        assert 'id="dag"' in shown and 'data-node="hello"' in shown
        assert 'data-region="local-1"' in shown and "go-live" in shown
        assert (
            f"http://ui.test:8233/namespaces/default/workflows/{release.replace('/', '%2F')}"
            in shown
        )
        for action in ("pause", "resume", "promote", "rollback", "abort"):
            assert f"{page}/actions/{action}" in shown
        gates = (await http.get("/gates", headers=html)).text
        assert (
            "Check the staging dashboard first." in gates
            and f"{page}/gates/go-live/approve" in gates
        )
        assert 'name="input.ticket"' in gates and 'pattern="CHG-[0-9]+"' in gates
        listed = await http.get(
            "/releases?system=hello&env=dev&phase=awaiting-approval", headers=html
        )
        assert release in listed.text
        none = await http.get("/releases?version=no-such-version", headers=html)
        assert release not in none.text and "No release matches" in none.text

        # the live part of the page, over server-sent events
        async with http.stream("GET", f"/live/releases/{release}") as events:
            assert events.headers["content-type"].startswith("text/event-stream")
            seen = ""
            async for line in events.aiter_lines():
                seen += line + "\n"
                if line == "" and "event: update" in seen:
                    break
        assert "data: " in seen and 'id="dag"' in seen and "awaiting-approval" in seen

        # pause and resume (a refusal's reason when repeated)
        paused = await http.post(f"{page}/actions/pause", json={"reason": "hold on"}, headers=ok)
        assert paused.status_code == 200 and "pausing" in paused.json()["answer"]
        refused(
            await http.post(f"{page}/actions/pause", json={}, headers=ok), 409, "already paused"
        )
        resumed = await http.post(f"{page}/actions/resume", data={"csrf": csrf}, headers=html)
        assert resumed.status_code == 303 and resumed.headers["location"] == page
        assert "resumed by demo-approver" in (await http.get(page, headers=html)).text

        # approve from a form: the browser goes back with the answer shown
        decided = await http.post(
            f"{page}/gates/go-live/approve",
            data={"csrf": csrf, "input.ticket": "CHG-42", "comment": "green", "next": page},
            headers=html,
        )
        assert decided.status_code == 303 and decided.headers["location"] == page
        assert "approved by demo-approver" in (await http.get(page, headers=html)).text
        handle = stack.client.get_workflow_handle_for(ReleaseWorkflow.run, release)
        result = await handle.result()
        assert result.status == "succeeded"
        done = (await http.get(page, headers=html)).text
        assert 'id="status">completed' in done and 'data-kind="approved"' in done
        assert "CHG-42" in done and "Operator actions" not in done
        logs = await http.get(f"{page}/logs", params={"node": "hello"})
        assert (
            logs.status_code == 200 and "== test (exit 0" in logs.text and "== package" in logs.text
        )
        provenance = await http.get(f"{page}/provenance", params={"node": "hello"})
        assert provenance.status_code == 200
        assert provenance.json()["predicateType"].startswith("https://slsa.dev/provenance")
        async with http.stream("GET", f"/live/releases/{release}") as events:
            body = "".join([line + "\n" async for line in events.aiter_lines()])
        assert "event: update" in body and body.rstrip().endswith("event: end\ndata:")
        refused(
            await http.post(f"{page}/actions/rollback", json={}, headers=ok),
            409,
            "already finished",
        )
        refused(
            await http.post(f"{page}/actions/abort", json={}, headers=ok), 409, "already finished"
        )

        # abort and roll back two more releases at their gates
        second = await stack.gated_release()
        aborted = await http.post(
            f"/releases/{second}/actions/abort", json={"reason": "wrong day"}, headers=ok
        )
        assert aborted.status_code == 200 and "aborted" in aborted.json()["answer"]
        third = await stack.gated_release()
        back = await http.post(f"/releases/{third}/actions/rollback", json={}, headers=ok)
        assert back.status_code == 200 and "rolled-back" in back.json()["answer"]
        listed = await http.get("/releases?system=hello&phase=rolled-back", headers=html)
        assert third in listed.text and second not in listed.text

        # log out: the session no longer reads or changes anything
        out = await http.post("/logout", headers=ok)
        assert out.status_code == 200
        refused(await http.get("/releases"), 401, "log in first")


async def test_anonymous_reads_when_the_config_allows_them(stack: Stack) -> None:
    directory = load_directory(stack.config)
    assert directory is not None
    opened = directory.model_copy(
        update={"dashboard": directory.dashboard.model_copy(update={"anonymous_read": True})}
    )
    save_directory(opened, stack.config)
    assert "anonymous-read: true" in stack.config.read_text()
    release = await stack.gated_release()
    async with stack.http(Accept="text/html") as anonymous:
        page = await anonymous.get(f"/releases/{release}")
        assert page.status_code == 200 and 'id="dag"' in page.text
        assert "Log in</a> to pause" in page.text, "no action forms without a login"
        gates = await anonymous.get("/gates")
        assert gates.status_code == 200 and "Log in</a> to decide" in gates.text
        assert 'name="csrf"' not in gates.text, "no forms for anonymous readers"
        csrf = "x" * 32
        refused(
            await anonymous.post(
                f"/releases/{release}/gates/go-live/approve",
                json={"inputs": {"ticket": "CHG-1"}},
                headers={"Accept": "application/json", "X-CSRF-Token": csrf},
            ),
            401,
            "log in first",
        )
    await unchanged(stack, release)
    handle = stack.client.get_workflow_handle_for(ReleaseWorkflow.run, release)
    await handle.execute_update(ReleaseWorkflow.abort, Decision(by="test", reason="cleanup"))
