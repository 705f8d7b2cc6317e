"""``ferryman promote`` and ``ferryman rollback``: decisions sent to a running release."""

from __future__ import annotations

import getpass

import typer

from ferryman.cli.app import app, console
from ferryman.cli.context import AddressOption, NamespaceOption, client_for, run
from ferryman.temporal.deploy_models import Decision
from ferryman.temporal.gates import decide

RegionOption = typer.Option(None, "--region", "-r", help="Only this region (default: all).")
ByOption = typer.Option(None, "--by", help="Who decides (default: the current user).")
ReasonOption = typer.Option("", "--reason", help="Why; kept in the release's history.")


def _decide(
    action: str,
    release_id: str,
    region: str | None,
    by: str | None,
    reason: str,
    address: str | None,
    namespace: str | None,
) -> None:
    async def go() -> list[str]:
        client = await client_for(address, namespace)
        decision = Decision(by=by or getpass.getuser(), reason=reason)
        return await decide(client, release_id, action, decision, region)

    for answer in run(go()):
        console.print(answer)


@app.command()
def promote(
    release_id: str = typer.Argument(..., help="The release, e.g. release/shop/prod/7."),
    region: str | None = RegionOption,
    by: str | None = ByOption,
    reason: str = ReasonOption,
    temporal_address: str | None = AddressOption,
    namespace: str | None = NamespaceOption,
) -> None:
    """Promote a release waiting for promotion (or skip its remaining pauses)."""
    _decide("promote", release_id, region, by, reason, temporal_address, namespace)


@app.command()
def rollback(
    release_id: str = typer.Argument(..., help="The release, e.g. release/shop/prod/7."),
    region: str | None = RegionOption,
    by: str | None = ByOption,
    reason: str = ReasonOption,
    temporal_address: str | None = AddressOption,
    namespace: str | None = NamespaceOption,
) -> None:
    """Restore the state recorded before a release's deploy in a region; waits until done."""
    _decide("rollback", release_id, region, by, reason, temporal_address, namespace)
