"""``ferryman experiment report``: variants, exposure, conversions, effect, interval, decision.

Reads the release's experiment looks from Temporal's history (a finished
release needs no worker) and saves a plot of the conversion rates over time.
"""

from __future__ import annotations

import re
from pathlib import Path

import typer
from rich.table import Table

from ferryman.cli.app import app, console, fail
from ferryman.cli.context import AddressOption, NamespaceOption, client_for, run
from ferryman.cli.experiment_view import COLUMNS, experiments, plot, rows
from ferryman.temporal.client.experiments import ExperimentLook, experiment_looks

experiment_app = typer.Typer(help="A/B experiments of releases.", no_args_is_help=True)
app.add_typer(experiment_app, name="experiment")


def default_plot(release_id: str) -> Path:
    """``experiment-<release>.png`` in the working directory, the id made a file name."""
    return Path(f"experiment-{re.sub(r'[^A-Za-z0-9._-]+', '-', release_id).strip('-')}.png")


@experiment_app.command("report")
def report(
    release_id: str = typer.Argument(..., help="The release, e.g. release/shop/prod/7."),
    region: list[str] = typer.Option(
        [], "--region", "-r", help="Only this region (repeatable; default: every region)."
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="The plot: .png or .svg (default experiment-<release>.png)."
    ),
    temporal_address: str | None = AddressOption,
    namespace: str | None = NamespaceOption,
) -> None:
    """Print each experiment of RELEASE_ID and save a plot of its conversion rates over time."""
    path = output or default_plot(release_id)
    if path.suffix.lower() not in (".png", ".svg"):
        raise fail(f"--output must end in .png or .svg, got {path.name!r}")

    async def go() -> list[ExperimentLook]:
        client = await client_for(temporal_address, namespace)
        return await experiment_looks(client, release_id, list(region) or None)

    looks = run(go())
    if not looks:
        raise fail(f"{release_id} has no experiment looks (yet)")
    groups = experiments(looks)
    for (where, service), group in groups.items():
        last = group[-1]
        console.print(
            f"[bold]{service}[/] in {where}: {last.treatment} vs {last.control},"
            f" {len(group)} looks",
            highlight=False,
        )
        table = Table(*COLUMNS, box=None, padding=(0, 2))
        for row in rows(group):
            table.add_row(*(row[column] for column in COLUMNS))
        console.print(table)
        console.print(f"  {last.judgement.verdict}: {last.judgement.reason}", highlight=False)
    saved = plot(groups, path, f"{release_id}: conversion by variant")
    console.print(f"plot saved to {saved}", highlight=False)
