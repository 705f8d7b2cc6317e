"""The release train's own worker: it serves ``ReleaseTrain`` on your queue, nothing of ferryman.

ferryman's releases (the train's children) run on ferryman's queue, served by
ferryman's workers (``ferryman dev`` on one machine, ``ferryman worker`` on a
cluster). Both sides use ferryman's data converter (pydantic models as JSON),
which ``ferryman.connect`` sets up.

    python examples/release-train/worker.py [--address localhost:7233]
"""

from __future__ import annotations

import argparse
import asyncio

from temporalio.worker import Worker
from train import TRAIN_QUEUE, ReleaseTrain

import ferryman


async def main() -> None:
    """Connect and serve the train's queue until interrupted."""
    parser = argparse.ArgumentParser(description="Serve the release train workflow.")
    parser.add_argument("--address", default="localhost:7233")
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--task-queue", default=TRAIN_QUEUE)
    args = parser.parse_args()
    client = await ferryman.connect(ferryman.Connection(args.address, args.namespace))
    worker = Worker(client, task_queue=args.task_queue, workflows=[ReleaseTrain])
    print(f"serving {args.task_queue} on {args.address}", flush=True)
    await worker.run()


if __name__ == "__main__":
    asyncio.run(main())
