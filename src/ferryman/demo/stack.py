"""The demo's own dev stack, in a state home of its own, stopped whatever happens.

The demo runs in ``<home>/demo`` (``<home>`` is ``$FERRYMAN_HOME`` or the
per-user default), emptied at the start of each run: every run starts from
nothing — a cold build cache, an empty production — so its numbers compare
from run to run, and none of the person's own releases is touched. The stack
(Temporal dev server with its Web UI, the worker, the local agent and the
HTTP API with the dashboard) is started there and stopped on the way out:
at the end, on an error, on Ctrl-C (SIGINT) or on SIGTERM.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from ferryman import paths
from ferryman.devstack import DevStack, StackConfig, StackInfo, load_info


def demo_home(base: Path | None = None) -> Path:
    """Where the demo keeps its state: ``<home>/demo``."""
    return (base or paths.home()) / "demo"


def enter_home(home: Path) -> None:
    """Make ``home`` this process's (and its children's) state home, emptied first.

    A stack still running there (a previous demo kept up) is stopped first.
    ``FERRYMAN_*`` settings of the caller (a token, a config, a Temporal
    address) are dropped: the demo acts as its own users on its own stack.
    """
    for name in [key for key in os.environ if key.startswith("FERRYMAN_")]:
        del os.environ[name]
    os.environ[paths.HOME_VARIABLE] = str(home)
    previous = load_info()
    if previous is not None:
        DevStack.stop(previous)
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextmanager
def running_stack(config: StackConfig) -> Iterator[StackInfo]:
    """Start the dev stack in the current state home; stop it when the block ends.

    SIGTERM is turned into ``KeyboardInterrupt`` (as Ctrl-C is) while the
    block runs, so both end in the same clean stop.
    """
    previous = signal.signal(signal.SIGTERM, _interrupt)
    info: StackInfo | None = None
    try:
        info = DevStack(config).start()
        yield info
    finally:
        if info is not None:
            DevStack.stop(info)
        signal.signal(signal.SIGTERM, previous)
