"""A team's worker for ferryman steps: plain ``temporalio``, no ferryman.

It serves, on a task queue the team owns:

- ``migrate-db``: a step (``at: before-wave 1``, ``after-region``…); it fails when
  its input says so (``fail: true``, or ``fail-in: [region, …]``);
- ``rollback-db``: its compensation, run when a rollback undoes a migrate-db that
  had succeeded;
- ``judge-bake``: an analysis for ``at: during-bake``; it returns
  ``{"passed": false, …}`` when its input asks for it.

Each activity takes one JSON object (ferryman's ``CustomStepInput``, see
``ferryman schema --json-schema custom-step-input``) and returns JSON. Run it with::

    python examples/team-step/worker.py --task-queue payments-ops
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

JOURNAL: Path | None = None


def note(name: str, payload: dict[str, Any], outcome: str) -> None:
    """Append one line per call to the journal, if there is one (tests read it)."""
    if JOURNAL is None:
        return
    line = {
        "activity": name,
        "outcome": outcome,
        "step": payload.get("step"),
        "action": payload.get("action"),
        "at": payload.get("at"),
        "region": payload.get("region"),
        "key": payload.get("key"),
        "version": payload.get("version"),
        "time": time.time(),
    }
    with JOURNAL.open("a", encoding="utf-8") as journal:
        journal.write(json.dumps(line) + "\n")


@activity.defn(name="migrate-db")
async def migrate_db(payload: dict[str, Any]) -> dict[str, Any]:
    """Migrate the database to ``input.schema`` (here: pretend to, and say so)."""
    options = payload.get("input", {})
    region = payload.get("region", "")
    if options.get("fail") or region in options.get("fail-in", []):
        note("migrate-db", payload, "failed")
        raise ApplicationError(f"migration to {options.get('schema')} failed", non_retryable=True)
    activity.heartbeat()
    note("migrate-db", payload, "succeeded")
    return {"schema": options.get("schema"), "region": region, "key": payload["key"]}


@activity.defn(name="rollback-db")
async def rollback_db(payload: dict[str, Any]) -> dict[str, Any]:
    """Undo a migration: the step's own result is in ``compensates.result``."""
    undone = payload.get("compensates") or {}
    note("rollback-db", payload, "succeeded")
    return {"rolled_back": (undone.get("result") or {}).get("schema"), "to": payload["input"]}


@activity.defn(name="judge-bake")
async def judge_bake(payload: dict[str, Any]) -> dict[str, Any]:
    """Judge a wave while it bakes: ``passed: false`` fails the bake without an error."""
    verdict = payload.get("input", {}).get("verdict", "pass")
    note("judge-bake", payload, verdict)
    if verdict == "pass":
        return {"passed": True, "message": "error budget intact"}
    return {"passed": False, "message": "error budget burnt: 3.2% of requests failed"}


async def main() -> None:
    """Connect and serve the team's queue until interrupted."""
    global JOURNAL
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="localhost:7233")
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--task-queue", default="payments-ops")
    parser.add_argument("--journal", type=Path, help="Append one JSON line per call here.")
    args = parser.parse_args()
    JOURNAL = args.journal
    client = await Client.connect(args.address, namespace=args.namespace)
    worker = Worker(
        client,
        task_queue=args.task_queue,
        activities=[migrate_db, rollback_db, judge_bake],
    )
    print(f"serving {args.task_queue} on {args.address}", flush=True)
    await worker.run()


if __name__ == "__main__":
    asyncio.run(main())
