"""Start a release train, follow it, and give the go between its cars.

    python examples/release-train/start.py start systems/catalog systems/checkout --env dev
    python examples/release-train/start.py go train/dev/1700000000 --by alice
    python examples/release-train/start.py status train/dev/1700000000

``start`` compiles each system's ``ferryman.yaml`` into a plan (with ferryman's
library: ``ferryman.plan_release``), starts the ``ReleaseTrain`` workflow with
them, prints its id and, unless ``--detach``, follows it to the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError
from train import TRAIN_QUEUE, Go, ReleaseTrain, TrainRequest, TrainResult

import ferryman


async def start(client: Client, args: argparse.Namespace) -> int:
    plans = [
        ferryman.plan_release(spec, args.env, version=args.version, requested_by=args.by)
        for spec in args.systems
    ]
    for plan in plans:  # on a local dev stack, its worker serves the plans' regions
        ferryman.serve_regions_on_dev_stack(plan)
    train_id = args.id or f"train/{args.env}/{int(time.time())}"
    handle = await client.start_workflow(
        ReleaseTrain.run,
        TrainRequest(plans=plans, ferryman_queue=args.ferryman_queue),
        id=train_id,
        task_queue=args.task_queue,
    )
    print(train_id, flush=True)
    if args.detach:
        return 0
    return await follow(handle)


async def follow(handle: WorkflowHandle[ReleaseTrain, TrainResult]) -> int:
    task = asyncio.ensure_future(handle.result())
    said = ""
    while not task.done():
        status = await handle.query(ReleaseTrain.status)
        line = f"{status.current or '…'}: " + (
            f"waiting for {status.waiting_for} — give it with `start.py go {handle.id}`"
            if status.waiting_for
            else "releasing"
        )
        if line != said:
            print(line, flush=True)
            said = line
        await asyncio.wait({task}, timeout=1)
    result = task.result()
    for car in result.cars:
        print(f"{car.system}: {car.status} {car.version} ({car.release_id}) {car.error}".rstrip())
    print(f"train {result.status}")
    return 0 if result.status == "done" else 1


async def go(client: Client, args: argparse.Namespace) -> int:
    handle = client.get_workflow_handle_for(ReleaseTrain.run, args.train)
    try:
        print(await handle.execute_update(ReleaseTrain.go, Go(by=args.by, reason=args.reason)))
    except WorkflowUpdateFailedError as exc:
        print(f"go refused: {getattr(exc.cause, 'message', exc.cause)}", file=sys.stderr)
        return 2
    except RPCError as exc:
        print(f"go refused: no running train {args.train} ({exc.message})", file=sys.stderr)
        return 2
    return 0


async def status(client: Client, args: argparse.Namespace) -> int:
    handle = client.get_workflow_handle_for(ReleaseTrain.run, args.train)
    print((await handle.query(ReleaseTrain.status)).model_dump_json(indent=2))
    return 0


async def main() -> int:
    parser = argparse.ArgumentParser(description="A release train of ferryman releases.")
    parser.add_argument("--address", default="localhost:7233")
    parser.add_argument("--namespace", default="default")
    commands = parser.add_subparsers(dest="command", required=True)
    first = commands.add_parser("start", help="Start a train of these systems, in order.")
    first.add_argument("systems", nargs="+", type=Path, help="ferryman.yaml files or their dirs")
    first.add_argument("--env", default="dev")
    first.add_argument("--version", default=None)
    first.add_argument("--id", default=None, help="The train's workflow id.")
    first.add_argument("--by", default="release-train")
    first.add_argument("--task-queue", default=TRAIN_QUEUE)
    first.add_argument("--ferryman-queue", default="ferryman")
    first.add_argument("--detach", action="store_true")
    for name, doc in (("go", "Let the next car leave."), ("status", "Where the train is.")):
        sub = commands.add_parser(name, help=doc)
        sub.add_argument("train")
        if name == "go":
            sub.add_argument("--by", required=True)
            sub.add_argument("--reason", default="")
    args = parser.parse_args()
    client = await ferryman.connect(ferryman.Connection(args.address, args.namespace))
    commands_by_name = {"start": start, "go": go, "status": status}
    return await commands_by_name[args.command](client, args)


if __name__ == "__main__":
    code = asyncio.run(main())
    sys.stdout.flush()
    sys.stderr.flush()
    # The Temporal client's core threads can race interpreter finalization (an abort
    # at exit after the work is done); leave without finalizing.
    os._exit(code)
