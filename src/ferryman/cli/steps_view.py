"""Teams' steps in a release's progress: a table, and a notice for each step without a worker.

::

    step        at             region  status     calls                    result
    migrate-db  before-wave 1          succeeded  migrate-db on payments…  {"rows":12}
    ⏳ step smoke-payments (after-region eu-1) is waiting for a worker on payments-ops since
       12:00:01: start a worker that polls payments-ops (see docs/team-steps.md)
"""

from __future__ import annotations

import json

from rich.table import Table
from rich.text import Text

from ferryman.plan.custom_steps import CustomStepPlan
from ferryman.temporal.models.custom import StepView
from ferryman.temporal.models.release import ReleaseProgress

STATUS_STYLES = {
    "running": "yellow",
    "waiting-for-worker": "bold yellow",
    "succeeded": "green",
    "failed": "red",
    "compensating": "yellow",
    "compensated": "cyan",
    "compensation-failed": "bold red",
}
SHOWN = 60


def _short(view: StepView) -> str:
    if view.error:
        text = view.error
    elif view.result is None:
        return ""
    else:
        text = json.dumps(view.result, separators=(",", ":"), sort_keys=True, default=str)
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"


def render_steps(progress: ReleaseProgress) -> list[Table | Text]:
    """The release's steps as a table, then one notice per step waiting for a worker."""
    if not progress.steps:
        return []
    table = Table("step", "at", "region", "status", "calls", "result", box=None, padding=(0, 2))
    for view in progress.steps:
        table.add_row(
            view.name,
            view.at,
            view.region,
            Text(view.status, style=STATUS_STYLES.get(view.status, "")),
            view.target,
            _short(view),
        )
    parts: list[Table | Text] = [table]
    for view in progress.steps:
        if not view.waiting:
            continue
        where = f" {view.region}" if view.region else ""
        queue = view.waiting.removeprefix("waiting for a worker on ")
        parts.append(
            Text.assemble(
                ("⏳ ", "bold yellow"),
                f"step {view.name} ({view.at}{where}) is {view.waiting} since "
                f"{view.since[11:19]}: start a worker that polls {queue} "
                "(see docs/team-steps.md)",
            )
        )
    return parts


def describe_step(step: CustomStepPlan) -> str:
    """A team's step in one line, for ``ferryman plan``: where, what it calls, what undoes it."""
    regions = f" in {', '.join(step.regions)}" if step.regions else ""
    undo = f"; undone by {step.compensate.target}" if step.compensate else ""
    return f"[bold]step[/] {step.name} ({step.point}{regions}): {step.call.target}{undo}"
