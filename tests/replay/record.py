"""Record the replay fixtures: run the example releases, save every workflow's history.

::

    .venv/bin/python -m tests.replay.record            # every scenario
    .venv/bin/python -m tests.replay.record saga gate  # only these
    .venv/bin/python -m tests.replay.record --keep before-my-patch  # keep the old ones too

A real Temporal dev server (the installed ``temporal`` binary, in memory) runs
each scenario of ``tests.replay.scenarios`` with in-process workers; then the
history of the scenario's release, of each child it started (build, region
switches, finalizes, restores) and of the environment's lock is saved to
``tests/replay/histories/<scenario>.<role>.json``, replacing that scenario's
previous fixtures (``--keep LABEL`` keeps them as ``<scenario>@LABEL.<role>.json``,
for a change behind ``workflow.patched``: see docs/versioning.md). Everything
else (state home, git repos, server) lives in a temporary directory that is
removed afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import sys
import tempfile
from pathlib import Path

from temporalio.client import Client, WorkflowHistory

from ferryman.temporal.converter import DATA_CONVERTER
from ferryman.testing import TemporalDevServer

from .fixtures import HISTORIES, file_name, kept_name, workflow_id_of
from .scenarios import SCENARIOS, Recorded

IDENTITY = "ferryman-replay-recorder"
"""The client and workers' identity in the histories (instead of ``pid@host``)."""


async def history_tree(client: Client, workflow_id: str) -> list[WorkflowHistory]:
    """The history of ``workflow_id`` (its latest run), then its children's, depth first."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    found = [history]
    for event in history.events:
        if event.HasField("start_child_workflow_execution_initiated_event_attributes"):
            child = event.start_child_workflow_execution_initiated_event_attributes.workflow_id
            found += await history_tree(client, child)
    return found


async def collect(client: Client, recorded: Recorded) -> list[WorkflowHistory]:
    """The histories of a scenario's release tree and of its lock, each finished."""
    lock = client.get_workflow_handle(recorded.lock_id)
    await lock.result()  # the lock ends once the release let it go
    histories = [*await history_tree(client, recorded.release_id), await lock.fetch_history()]
    for history in histories:
        if workflow_id_of(history) != history.workflow_id:
            raise RuntimeError(f"{history.workflow_id}: its first event names another workflow")
    return histories


def save(
    directory: Path,
    scenario: str,
    recorded: Recorded,
    found: list[WorkflowHistory],
    keep: str = "",
) -> None:
    """Replace ``scenario``'s fixtures in ``directory`` by ``found`` (``keep``: rename the old)."""
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob(f"{scenario}.*.json"):
        if keep:
            old.rename(directory / kept_name(old, keep))
        else:
            old.unlink()
    for history in found:
        name = file_name(scenario, history.workflow_id, recorded.release_id)
        (directory / name).write_text(history.to_json() + "\n", encoding="utf-8")
        print(f"  {name}: {len(history.events)} events")


async def record(scenarios: list[str], directory: Path, keep: str = "") -> None:
    """Run ``scenarios`` on a fresh dev server and save their histories in ``directory``."""
    with tempfile.TemporaryDirectory(prefix="ferryman-replay-") as scratch:
        root = Path(scratch)
        os.environ["FERRYMAN_HOME"] = str(root / "home")
        server = TemporalDevServer(log_dir=root).start()
        try:
            client = await Client.connect(
                server.address, data_converter=DATA_CONVERTER, identity=IDENTITY
            )
            for scenario in scenarios:
                print(f"{scenario}: {(SCENARIOS[scenario].__doc__ or '').strip()}")
                work = root / scenario
                work.mkdir()
                recorded = await SCENARIOS[scenario](client, work)
                save(directory, scenario, recorded, await collect(client, recorded), keep)
        finally:
            server.stop()


def main(argv: list[str] | None = None) -> int:
    """``python -m tests.replay.record [SCENARIO …] [--out DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m tests.replay.record", description=__doc__)
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO", help=", ".join(SCENARIOS))
    parser.add_argument("--out", type=Path, default=HISTORIES, help="where to save the histories")
    parser.add_argument(
        "--keep",
        default="",
        metavar="LABEL",
        help="keep the scenarios' previous histories as <scenario>@LABEL.<role>.json",
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.scenarios) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    if not re.fullmatch(r"[a-z0-9-]*", args.keep):
        parser.error("--keep: lower-case letters, digits and dashes")
    # The saga scenario fails an activity on purpose: the worker's warning about it is noise.
    logging.getLogger("temporalio.activity").setLevel(logging.ERROR)
    asyncio.run(record(args.scenarios or list(SCENARIOS), args.out, args.keep))
    return 0


if __name__ == "__main__":
    sys.exit(main())
