"""Approval gates on the real dev stack (`ferryman dev --detach`), through the CLI and HTTP.

The stack creates the demo users (alice releases, demo-approver approves). A gate
waits durably: the worker is SIGKILLed and the Temporal dev server restarted on
the same SQLite file, and the gate still takes the approval and the release goes on.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from ferryman.devstack.processes import stop_group
from ferryman.identity.config import demo_token
from ferryman.temporal.converter import DATA_CONVERTER

from .test_cli_stack import ferryman, ports, recorded_pids

pytestmark = pytest.mark.integration

GATE = """
    gates:
      go-live:
        at: before-environment
        approvers: [release-managers]
        instructions: "Check the staging dashboard first."
        inputs: {ticket: {pattern: "CHG-[0-9]+", required: true}}
"""


@pytest.fixture
def gated_spec(hello_spec: Path) -> Path:
    hello_spec.write_text(hello_spec.read_text() + GATE)
    return hello_spec


@pytest.fixture
def stack(ferryman_home: Path) -> Iterator[dict[str, str]]:
    """A detached dev stack with a private home; torn down afterwards."""
    env = {**os.environ, "FERRYMAN_HOME": str(ferryman_home), "COLUMNS": "200"}
    env.pop("FERRYMAN_TOKEN", None)
    up = ferryman("dev", "--detach", *ports(), env=env)
    assert up.returncode == 0, up.stdout + up.stderr
    assert "HTTP API" in up.stdout and "demo tokens" in up.stdout
    yield env
    ferryman("down", env=env)


def as_user(env: dict[str, str], user: str) -> dict[str, str]:
    return {**env, "FERRYMAN_TOKEN": demo_token(user, Path(env["FERRYMAN_HOME"]) / "config.yaml")}


def until(check: Callable[[], Any], what: str, timeout_s: float = 120) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (value := check()):
        assert time.monotonic() < deadline, f"{what} not reached in time"
        time.sleep(0.2)
    return value


def pending(env: dict[str, str]) -> list[dict[str, Any]]:
    listed = ferryman("gates", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    return list(json.loads(listed.stdout))


def stack_info(home: Path) -> dict[str, Any]:
    return dict(json.loads((home / "dev.json").read_text()))


async def _finish(address: str, release: str) -> tuple[str, bytes]:
    client = await Client.connect(address, data_converter=DATA_CONVERTER)
    handle = client.get_workflow_handle(release)
    result = await asyncio.wait_for(handle.result(), timeout=180)
    history = await handle.fetch_history()
    return str(result["status"] if isinstance(result, dict) else result.status), b"".join(
        event.SerializeToString() for event in history.events
    )


def finish(home: Path, release: str) -> tuple[str, bytes]:
    """The release's end status and its whole history, serialized."""
    return asyncio.run(_finish(stack_info(home)["temporal_address"], release))


def refused(result: Any, code: int, text: str) -> None:
    assert result.returncode == code, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and text in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_cli_approvals_refusals_audit_and_history(
    stack: dict[str, str], ferryman_home: Path, gated_spec: Path
) -> None:
    assert ferryman("whoami", env=stack).stdout.startswith("alice")
    started = ferryman("release", str(gated_spec), "--env", "dev", "--detach", env=stack)
    assert started.returncode == 0, started.stdout + started.stderr
    release = "release/hello/dev/1"
    gates = until(lambda: pending(stack), "the gate listed")
    assert len(gates) == 1
    gate = gates[0]
    assert (gate["release_id"], gate["gate"], gate["requested_by"]) == (release, "go-live", "alice")
    assert gate["may_decide"] == ["demo-approver"], "alice started it, so only demo-approver"
    assert gate["instructions"] == "Check the staging dashboard first." and gate["opened_at"]
    table = ferryman("gates", env=stack)
    assert "go-live" in table.stdout and "demo-approver" in table.stdout

    approver = as_user(stack, "demo-approver")
    refused(
        ferryman("approve", release, "-i", "ticket=CHG-1", env=stack),
        1,
        "alice started this release and may not approve it (separation of duties)",
    )
    refused(
        ferryman("approve", release, "-i", "ticket=CHG-1", env=as_user(stack, "bob")),
        1,
        "bob may not decide gate go-live (approvers: alice, demo-approver)",
    )
    refused(
        ferryman("approve", release, "-i", "ticket=chg-1", env=approver),
        1,
        "input ticket 'chg-1' does not match CHG-[0-9]+",
    )
    refused(ferryman("approve", release, env=approver), 1, "needs input ticket to approve")
    refused(
        ferryman("approve", release, "--gate", "nope", env=approver),
        4,
        "has no gate nope (gates: go-live)",
    )
    refused(
        ferryman("approve", "release/hello/dev/99", env=approver),
        4,
        "no running release 'release/hello/dev/99'",
    )
    refused(
        ferryman("approve", release, env={**stack, "FERRYMAN_TOKEN": "fm_forged"}),
        3,
        "the token matches no user",
    )
    refused(ferryman("approve", release, "-i", "ticket", env=approver), 2, "KEY=VALUE")
    assert pending(stack)[0]["approvals"] == [], "no refusal changed the gate"

    approved = ferryman(
        "approve", release, "-i", "ticket=CHG-1234", "-m", "staging dashboards green",
        env=approver,
    )  # fmt: skip
    assert approved.returncode == 0, approved.stderr
    assert "gate go-live: approved by demo-approver" in approved.stdout
    status, history = finish(ferryman_home, release)
    assert status == "succeeded"
    assert b"demo-approver" in history and b"staging dashboards green" in history
    assert b"CHG-1234" in history and b"chg-1" not in history, "refusals left no trace"

    audit = json.loads(ferryman("audit", release, "--json", env=stack).stdout)
    assert [(e["kind"], e["user"]) for e in audit] == [
        ("opened", "ferryman"),
        ("approved", "demo-approver"),
    ]
    assert audit[1]["comment"] == "staging dashboards green"
    assert audit[1]["inputs"] == {"ticket": "CHG-1234"} and audit[1]["channel"] == "cli"
    refused(ferryman("audit", "release/hello/dev/99", env=stack), 4, "no release")


def test_http_api_lists_and_decides_with_bearer_tokens(
    stack: dict[str, str], ferryman_home: Path, gated_spec: Path
) -> None:
    base = stack_info(ferryman_home)["server_url"]
    config = ferryman_home / "config.yaml"

    def bearer(user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {demo_token(user, config)}"}

    started = ferryman("release", str(gated_spec), "--env", "dev", "--detach", env=stack)
    assert started.returncode == 0, started.stderr
    release = "release/hello/dev/1"
    with httpx.Client(base_url=base, timeout=30) as http:
        assert http.get("/api/v1/gates").status_code == 401
        forged = http.get("/api/v1/gates", headers={"Authorization": "Bearer fm_forged"})
        assert forged.status_code == 401 and forged.json()["error"] == "unknown token"
        listed = until(
            lambda: http.get("/api/v1/gates", headers=bearer("bob")).json(), "gate over HTTP"
        )
        assert listed[0]["release_id"] == release and listed[0]["gate"] == "go-live"
        url = f"/api/v1/releases/{release}/gates/go-live/approve"
        body = {"comment": "ship it", "inputs": {"ticket": "CHG-77"}}
        cases = [
            ({}, body, 401, "missing bearer token"),
            (bearer("bob"), body, 403, "bob may not decide gate go-live"),
            (bearer("alice"), body, 403, "separation of duties"),
            (bearer("demo-approver"), {"comment": "no ticket"}, 422, "needs input ticket"),
            (bearer("demo-approver"), {"inputs": {"ticket": "x"}}, 422, "does not match"),
            (bearer("demo-approver"), {"comment": 7}, 422, "comment"),
        ]
        for headers, payload, code, text in cases:
            answer = http.post(url, json=payload, headers=headers)
            assert answer.status_code == code, (code, answer.text)
            assert text in answer.json()["error"], answer.json()
        missing = http.post(
            f"/api/v1/releases/{release}/gates/nope/approve", json=body, headers=bearer("bob")
        )
        assert missing.status_code == 404 and "has no gate nope" in missing.json()["error"]
        nobody = http.post(
            "/api/v1/releases/release/hello/dev/9/gates/go-live/approve",
            json=body,
            headers=bearer("demo-approver"),
        )
        assert nobody.status_code == 404
        ok = http.post(url, json=body, headers=bearer("demo-approver"))
        assert ok.status_code == 200, ok.text
        assert ok.json()["answer"].endswith("gate go-live: approved by demo-approver")
        again = http.post(url, json=body, headers=bearer("demo-approver"))
        assert again.status_code == 409, again.text
        status, history = finish(ferryman_home, release)
        assert status == "succeeded" and b"ship it" in history
        audit = http.get(f"/api/v1/releases/{release}/audit", headers=bearer("bob")).json()
        assert [(e["kind"], e["user"], e["channel"]) for e in audit] == [
            ("opened", "ferryman", ""),
            ("approved", "demo-approver", "http"),
        ]


def test_a_gate_outlives_a_killed_worker_and_a_restarted_server(
    stack: dict[str, str], ferryman_home: Path, gated_spec: Path
) -> None:
    started = ferryman("release", str(gated_spec), "--env", "dev", "--detach", env=stack)
    assert started.returncode == 0, started.stderr
    release = "release/hello/dev/1"
    until(lambda: pending(stack), "the gate listed")
    pids = recorded_pids(ferryman_home)
    os.killpg(pids["worker"], signal.SIGKILL)
    stop_group(pids["temporal"])
    assert ferryman("down", env=stack).returncode == 0
    again = ferryman("dev", "--detach", *ports(), env=stack)
    assert again.returncode == 0, again.stderr
    gates = until(lambda: pending(stack), "the gate listed after the restart")
    assert gates[0]["release_id"] == release, "the same SQLite history, the same gate"
    approved = ferryman(
        "approve", release, "-i", "ticket=CHG-9", "-m", "after the restart",
        env=as_user(stack, "demo-approver"),
    )  # fmt: skip
    assert approved.returncode == 0, approved.stdout + approved.stderr
    status, history = finish(ferryman_home, release)
    assert status == "succeeded"
    assert b"demo-approver" in history and b"after the restart" in history
    detail = ferryman("status", release, env=stack)
    assert "phase done" in detail.stdout and "gate go-live passed" in detail.stdout
