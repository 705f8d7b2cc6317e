"""``ferryman gates``, ``approve``, ``reject`` and ``audit``: people deciding at approval gates.

Exit codes of ``approve`` and ``reject`` (and ``audit`` where they apply):
0 decided; 1 refused by the gate's policy (not an approver, separation of
duties, decided already, gate closed or not open, inputs off their pattern);
2 bad arguments or Temporal unreachable; 3 no identity or an unknown token;
4 no such release or gate.
"""

from __future__ import annotations

import json

import typer
from rich.table import Table

from ferryman.approvals.audit import AuditEvent
from ferryman.approvals.policy import GateDecision, Verdict
from ferryman.approvals.views import GateView
from ferryman.cli.app import app, console, fail
from ferryman.cli.context import AddressOption, NamespaceOption, client_for, run
from ferryman.cli.whoami import current_user
from ferryman.temporal.client.gates import GateRefused, decide, pending_gates, release_audit

EXIT_CODES = {"forbidden": 1, "conflict": 1, "invalid": 1, "unauthenticated": 3, "not-found": 4}
CODES_HELP = (
    "Exit codes: 0 decided; 1 refused by the gate's policy; 2 bad arguments or Temporal "
    "unreachable; 3 no identity or unknown token; 4 no such release or gate."
)

GateOption = typer.Option(None, "--gate", "-g", help="The gate (default: the only one pending).")
RegionOption = typer.Option(None, "--region", "-r", help="The region, for a promotion gate.")
CommentOption = typer.Option("", "--comment", "-m", help="Why; kept in the audit trail.")
InputOption = typer.Option(
    [], "--input", "-i", help="A value the gate asks for, as KEY=VALUE (repeatable)."
)


def _since(at: str) -> str:
    return at[:19].replace("T", " ") if at else ""


def _inputs(pairs: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise fail(f"--input wants KEY=VALUE, got {pair!r}", 2)
        values[key] = value
    return values


def gates_table(views: list[GateView]) -> Table:
    """Pending gates: release, gate, waiting since, approvals, who may decide, instructions."""
    table = Table("release", "gate", "waiting since", "approvals", "who may decide", "instructions")
    for view in views:
        where = f"{view.gate} ({view.point}{', ' + view.region if view.region else ''})"
        who = ", ".join(view.may_decide) if view.approvers else "anyone"
        written = ", ".join(view.approvers_as_written)
        table.add_row(
            view.release_id,
            where,
            _since(view.opened_at),
            f"{len(view.approvals)} of {view.required}",
            f"{who} [dim]({written})[/]" if written else who,
            view.instructions
            + (f" [dim]inputs: {', '.join(view.inputs)}[/]" if view.inputs else ""),
        )
    return table


@app.command()
def gates(
    release_id: str | None = typer.Argument(None, help="Only this release's gates."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    temporal_address: str | None = AddressOption,
    namespace: str | None = NamespaceOption,
) -> None:
    """List every gate waiting for a decision, across releases."""

    async def go() -> list[GateView]:
        client = await client_for(temporal_address, namespace)
        return await pending_gates(client, release_id)

    views = run(go())
    if as_json:
        typer.echo(json.dumps([v.model_dump(mode="json") for v in views], indent=2))
    elif not views:
        console.print("no gate is waiting")
    else:
        console.print(gates_table(views))


def _decide(
    verdict: Verdict,
    release_id: str,
    gate: str | None,
    region: str | None,
    comment: str,
    inputs: list[str],
    address: str | None,
    namespace: str | None,
) -> None:
    user = current_user()
    assert user is not None
    decision = GateDecision(
        gate=gate or "",
        verdict=verdict,
        user=user,
        comment=comment,
        inputs=_inputs(inputs),
        channel="cli",
    )

    async def go() -> str:
        client = await client_for(address, namespace)
        return await decide(client, release_id, decision, region)

    try:
        answer = run(go())
    except GateRefused as exc:
        raise fail(f"{verdict} refused: {exc.message}", EXIT_CODES[exc.kind]) from None
    console.print(answer, highlight=False)


@app.command(epilog=CODES_HELP)
def approve(
    release_id: str = typer.Argument(..., help="The release, e.g. release/shop/prod/7."),
    gate: str | None = GateOption,
    region: str | None = RegionOption,
    comment: str = CommentOption,
    inputs: list[str] = InputOption,
    temporal_address: str | None = AddressOption,
    namespace: str | None = NamespaceOption,
) -> None:
    """Approve a pending gate of a release as the user this CLI authenticates as."""
    _decide("approve", release_id, gate, region, comment, inputs, temporal_address, namespace)


@app.command(epilog=CODES_HELP)
def reject(
    release_id: str = typer.Argument(..., help="The release, e.g. release/shop/prod/7."),
    gate: str | None = GateOption,
    region: str | None = RegionOption,
    comment: str = CommentOption,
    inputs: list[str] = InputOption,
    temporal_address: str | None = AddressOption,
    namespace: str | None = NamespaceOption,
) -> None:
    """Reject a pending gate: the release restores what it deployed and ends ``rejected``."""
    _decide("reject", release_id, gate, region, comment, inputs, temporal_address, namespace)


def audit_table(events: list[AuditEvent]) -> Table:
    """Gate events: when, where, what, who, channel, comment and inputs."""
    table = Table("when", "gate", "event", "who", "channel", "comment", "inputs", "detail")
    for event in events:
        where = f"{event.gate}{' in ' + event.region if event.region else ''}"
        table.add_row(
            _since(event.at),
            where,
            event.kind,
            event.user,
            event.channel,
            event.comment,
            ", ".join(f"{k}={v}" for k, v in event.inputs.items()),
            event.detail,
        )
    return table


@app.command(epilog="Exit codes: 0 shown; 2 Temporal unreachable; 4 no such release.")
def audit(
    release_id: str = typer.Argument(..., help="The release, e.g. release/shop/prod/7."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    temporal_address: str | None = AddressOption,
    namespace: str | None = NamespaceOption,
) -> None:
    """Every gate event of a release and its region deploys: who, when, what, comment, inputs."""

    async def go() -> list[AuditEvent]:
        client = await client_for(temporal_address, namespace)
        return await release_audit(client, release_id)

    try:
        events = run(go())
    except GateRefused as exc:
        raise fail(exc.message, EXIT_CODES[exc.kind]) from None
    if as_json:
        typer.echo(json.dumps([e.model_dump(mode="json") for e in events], indent=2))
    elif not events:
        console.print(f"{release_id} has no gate events")
    else:
        console.print(audit_table(events))
