"""``ferryman promote | rollback | pause | resume | abort``: decisions sent to a release."""

from __future__ import annotations

import getpass

import typer

from ferryman.cli.app import app, console, fail
from ferryman.cli.context import AddressOption, NamespaceOption, client_for, run
from ferryman.cli.whoami import current_user
from ferryman.temporal.client import decisions
from ferryman.temporal.models.region import Decision

ByOption = typer.Option(
    None, "--by", help="Who decides, without a ferryman config (else: the authenticated user)."
)


def _decider(by: str | None) -> str:
    """The authenticated user; ``--by`` only counts where there is no identity at all."""
    user = current_user(required=False)
    if user is None:
        return by or getpass.getuser()
    if by is not None and by != user:
        raise fail(f"--by {by} does not match your identity {user} (from your token)", 3)
    return user


@app.command()
def promote(
    release_id: str = typer.Argument(..., help="The release, e.g. release/shop/prod/7."),
    region: str | None = typer.Option(
        None, "--region", "-r", help="Only this region (default: every region deploying)."
    ),
    by: str | None = ByOption,
    reason: str = typer.Option("", "--reason", help="Why; kept in the release's history."),
    temporal_address: str | None = AddressOption,
    namespace: str | None = NamespaceOption,
) -> None:
    """Approve the promotion gate of a release's held regions (or skip their remaining pauses).

    The short form of ``ferryman approve RELEASE --gate <promotion gate>``, under the
    same policy.
    """
    decider = _decider(by)

    async def go() -> list[str]:
        client = await client_for(temporal_address, namespace)
        decision = Decision(by=decider, reason=reason)
        return await decisions.promote(client, release_id, decision, region)

    for answer in run(go()):
        console.print(answer)


@app.command()
def rollback(
    release_id: str = typer.Argument(..., help="The release, e.g. release/shop/prod/7."),
    reason: str = typer.Option(..., "--reason", help="Why; kept in the release's history."),
    by: str | None = ByOption,
    temporal_address: str | None = AddressOption,
    namespace: str | None = NamespaceOption,
) -> None:
    """Put back every region the release touched, the last wave first; waits until done."""
    decider = _decider(by)

    async def go() -> str:
        client = await client_for(temporal_address, namespace)
        decision = Decision(by=decider, reason=reason)
        return await decisions.rollback(client, release_id, decision)

    console.print(run(go()))


def _steer(action: str, release_id: str, reason: str, by: str | None, address: str | None,
           namespace: str | None) -> None:  # fmt: skip
    async def go() -> str:
        client = await client_for(address, namespace)
        decision = Decision(by=by or getpass.getuser(), reason=reason)
        return await decisions.steer(client, release_id, action, decision)

    console.print(run(go()))


@app.command()
def pause(
    release_id: str = typer.Argument(..., help="The release, e.g. release/shop/prod/7."),
    reason: str = typer.Option(..., "--reason", help="Why; kept in the release's history."),
    by: str | None = ByOption,
    temporal_address: str | None = AddressOption,
    namespace: str | None = NamespaceOption,
) -> None:
    """Stop a rollout after its current step, until `ferryman resume`."""
    _steer("pause", release_id, reason, by, temporal_address, namespace)


@app.command()
def resume(
    release_id: str = typer.Argument(..., help="The release, e.g. release/shop/prod/7."),
    reason: str = typer.Option("", "--reason", help="Why; kept in the release's history."),
    by: str | None = ByOption,
    temporal_address: str | None = AddressOption,
    namespace: str | None = NamespaceOption,
) -> None:
    """Go on with a paused rollout; regions whose switch failed are switched again."""
    _steer("resume", release_id, reason, by, temporal_address, namespace)


@app.command()
def abort(
    release_id: str = typer.Argument(..., help="The release, e.g. release/shop/prod/7."),
    reason: str = typer.Option(..., "--reason", help="Why; kept in the release's history."),
    by: str | None = ByOption,
    temporal_address: str | None = AddressOption,
    namespace: str | None = NamespaceOption,
) -> None:
    """Stop a rollout where it is, without rolling back (to fix forward); waits until done."""
    _steer("abort", release_id, reason, by, temporal_address, namespace)
