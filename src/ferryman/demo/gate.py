"""Level 4: production waits for a person; the demo shows where to decide, then decides.

Every production release stops after its build at the ``go-live`` gate until
a release manager approves it with a change ticket. The release was started
by ``alice`` (the CLI's demo user), who may not approve her own release, so
the demo approves as ``demo-approver`` over the HTTP API — exactly what the
dashboard's Approve button and ``ferryman approve`` send. With
``DEMO_INTERACTIVE=1`` it waits for a person to do it instead (in a terminal,
Enter lets the demo approve after all).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import threading
import time
from pathlib import Path

import httpx

from ferryman.approvals.audit import AuditEvent
from ferryman.approvals.views import GateView
from ferryman.demo.context import Demo
from ferryman.demo.measure import epoch
from ferryman.errors import FerrymanError
from ferryman.identity.config import config_path, demo_token
from ferryman.temporal.client.gates import pending_gates, release_audit

APPROVER = "demo-approver"
INPUTS = {"ticket": "CHG-1234"}
"""What the demo approver types in for the gate's inputs."""
COMMENT = "staging looks good"


async def wait_for_gate(demo: Demo, release_id: str, timeout_s: float = 600) -> GateView:
    """The release's first open gate, once it has one.

    Raises:
        FerrymanError: It never opened one (the build failed, or it took too long).
    """
    deadline = time.monotonic() + timeout_s
    while not (gates := await pending_gates(demo.client, release_id)):
        if time.monotonic() > deadline:
            raise FerrymanError(f"{release_id} never reached its gate")
        described = await demo.client.get_workflow_handle(release_id).describe()
        if described.close_time is not None:
            raise FerrymanError(
                f"{release_id} ended before its gate: `ferryman status {release_id}`"
            )
        await asyncio.sleep(0.5)
    return gates[0]


def explain(demo: Demo, release_id: str, gate: GateView, first: bool) -> tuple[str, str]:
    """Print where a person decides; returns the approval's URL and body."""
    inputs = {k: v for k, v in INPUTS.items() if k in gate.inputs}
    body = json.dumps({"comment": COMMENT, "inputs": inputs})
    server = demo.info.server_url
    url = f"{server}/api/v1/releases/{release_id}/gates/{gate.gate}/approve"
    page = f"{server}/releases/{release_id}"
    if not first:
        demo.say(f"  stopped at gate [bold]{gate.gate}[/] again; decide at {page}")
        return url, body
    flags = "".join(f" --input {k}={v}" for k, v in inputs.items())
    tokens = demo.info.tokens_path or "the demo tokens file"
    demo.say(
        f"  stopped at gate [bold]{gate.gate}[/] ({gate.point}): {gate.instructions}\n"
        f"  who may decide: {', '.join(gate.may_decide)} — not {gate.requested_by}, who started"
        " it (separation of duties)\n"
        f"  in the dashboard: {page}\n"
        f"    (log in with {APPROVER}'s token from {tokens}; every pending gate: {server}/gates)\n"
        "  or from the CLI:\n"
        f"    FERRYMAN_TOKEN=<{APPROVER}'s token> ferryman approve {release_id} "
        f"--gate {gate.gate}{flags} --comment '{COMMENT}'\n"
        "  or over HTTP:\n"
        f"    curl -X POST -H 'Authorization: Bearer <token>' "
        f"-H 'Content-Type: application/json' -d '{body}' {url}"
    )
    return url, body


async def approve(demo: Demo, url: str, body: str) -> None:
    """Approve the gate as the demo approver through the HTTP API.

    Raises:
        FerrymanError: The server refused (with its reason).
    """
    token = demo_token(APPROVER, Path(demo.info.config_path or config_path()))
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(url, content=body, headers=headers)
    if response.status_code != 200:
        raise FerrymanError(f"the approval was refused: {response.json().get('error')}")
    demo.say(f"  [green]approved[/] as {APPROVER} over HTTP: {response.json()['answer']}")


_WAITING: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
_LISTENING = threading.Event()


def _listen() -> None:
    """Read the terminal's lines for as long as the demo runs; each sets the events waiting."""
    for _ in sys.stdin:
        while _WAITING:
            loop, pressed = _WAITING.pop()
            loop.call_soon_threadsafe(pressed.set)


def enter_pressed() -> asyncio.Event:
    """An event set when Enter is next pressed in the terminal (never without one).

    One daemon thread reads the terminal for the whole run, so a gate decided
    elsewhere leaves no reader behind and the demo still exits at once.
    """
    pressed = asyncio.Event()
    if sys.stdin.isatty():
        _WAITING.append((asyncio.get_running_loop(), pressed))
        if not _LISTENING.is_set():
            _LISTENING.set()
            threading.Thread(target=_listen, name="demo-enter", daemon=True).start()
    return pressed


async def decided_by_a_person(demo: Demo, release_id: str) -> bool:
    """Wait until someone decides the gate (True), or for Enter to let the demo (False)."""
    hint = "; press Enter to let the demo approve it" if sys.stdin.isatty() else ""
    demo.say(f"  [bold]waiting for your decision[/]{hint}…")
    enter = enter_pressed()
    try:
        while not enter.is_set():
            if not await pending_gates(demo.client, release_id):
                return True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(enter.wait(), timeout=1)
        return False
    finally:
        _WAITING[:] = [(loop, event) for loop, event in _WAITING if event is not enter]


async def pass_gate(demo: Demo, release_id: str, first: bool) -> None:
    """Wait for the release's gate, show where to decide, and see it decided."""
    gate = await wait_for_gate(demo, release_id)
    url, body = explain(demo, release_id, gate, first)
    if demo.options.interactive and await decided_by_a_person(demo, release_id):
        demo.say("  [green]decided[/] by a person")
        return
    await approve(demo, url, body)


def approval(trail: list[AuditEvent]) -> tuple[str, float]:
    """Who approved, and how long the gate waited (opened → approved), from its audit trail."""
    opened = next((e for e in trail if e.kind == "opened"), None)
    approved = next((e for e in trail if e.kind == "approved"), None)
    if opened is None or approved is None:
        return "", 0.0
    return approved.user, epoch(approved.at) - epoch(opened.at)


async def audit(demo: Demo, release_id: str) -> tuple[str, float]:
    """Who approved the release's gate and how long it waited, from the workflow's audit."""
    return approval(await release_audit(demo.client, release_id))
