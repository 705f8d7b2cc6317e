"""``ferryman users``: list users, add one, rotate a token (printed once, stored hashed)."""

from __future__ import annotations

import typer
from rich.table import Table

from ferryman.cli.app import app, console
from ferryman.cli.whoami import directory
from ferryman.identity.config import add_user, config_path, rotate_token

users_app = typer.Typer(help="Users, groups and API tokens of the ferryman config.")
app.add_typer(users_app, name="users")


@users_app.command("list")
def list_users() -> None:
    """Every user with their groups and Slack id (tokens are never shown: only hashes exist)."""
    found = directory()
    if found is None:
        console.print(f"no config at {config_path()} (`ferryman users add NAME` creates one)")
        return
    table = Table("user", "groups", "slack", "description")
    for name, user in found.users.items():
        table.add_row(name, ", ".join(found.groups_of(name)), user.slack or "", user.description)
    console.print(table)


@users_app.command("add")
def add(
    name: str = typer.Argument(..., help="The user's name (lower-case, digits, . _ -)."),
    group: list[str] = typer.Option([], "--group", "-g", help="A group to join (repeatable)."),
    slack: str | None = typer.Option(None, "--slack", help="The user's Slack id (U…)."),
    description: str = typer.Option("", "--description", help="Free text, e.g. a role."),
) -> None:
    """Add a user; prints their new API token once (only its salted hash is kept)."""
    token = add_user(name, tuple(group), slack, description)
    console.print(f"added {name} to {config_path()}; their token (shown once):")
    typer.echo(token)


@users_app.command("rotate")
def rotate(name: str = typer.Argument(..., help="The user whose token to replace.")) -> None:
    """Give a user a new API token (the old one stops working at once); prints it once."""
    token = rotate_token(name)
    console.print(f"new token for {name} (shown once; the old one no longer works):")
    typer.echo(token)
