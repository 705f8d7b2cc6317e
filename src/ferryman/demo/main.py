"""``python -m ferryman.demo [EXAMPLES]`` (``make demo``): set up, tell the story, sum up, stop.

The demo empties its own state home (``<home>/demo``), copies the shop there
as git repositories, starts the dev stack with the dashboard, tells the story
(:mod:`ferryman.demo.story`), prints the summary table and stops every process
it started — at the end, on an error, on Ctrl-C or SIGTERM. With
``DEMO_INTERACTIVE=1`` or ``DEMO_KEEP=1`` the stack stays up after the summary
until Ctrl-C, for a look at the dashboard and the Temporal Web UI.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from rich.console import Console

from ferryman.demo.findings import Findings
from ferryman.demo.options import DemoOptions
from ferryman.demo.stack import demo_home, enter_home, running_stack
from ferryman.demo.story import tell
from ferryman.demo.summary import Places, render
from ferryman.demo.workspace import Workspace
from ferryman.devstack import StackInfo
from ferryman.errors import DevStackError, FerrymanError

SUMMARY_WIDTH = 160
"""Columns of the story and its table when the output is not a terminal (a log, a test)."""


def places(info: StackInfo, home: Path) -> Places:
    """Where to look once the story is told."""
    ui = f"{info.ui_url}/namespaces/{info.namespace}/workflows" if info.ui_url else "(none)"
    return Places(dashboard=info.server_url or "(none)", temporal_ui=ui, home=str(home))


def introduce(console: Console, info: StackInfo, home: Path) -> None:
    """Say where everything runs before the story starts."""
    console.print(
        f"dev stack up in {home} (its own state home, emptied at each run):\n"
        f"  Temporal {info.temporal_address}, Web UI {info.ui_url}\n"
        f"  local agent {info.agent_url}, HTTP API and dashboard {info.server_url}/releases\n"
        f"  demo users' tokens in {info.tokens_path}",
        highlight=False,
        soft_wrap=True,
    )


def finish(console: Console, findings: Findings, info: StackInfo, options: DemoOptions) -> None:
    """Print the summary and save it where asked."""
    home = demo_home_of(info)
    where = places(info, home)
    findings.urls = {
        "dashboard": where.dashboard,
        "temporal_ui": where.temporal_ui,
        "home": where.home,
    }
    render(console, findings, where)
    if options.summary_json is not None:
        findings.write(options.summary_json)


def demo_home_of(info: StackInfo) -> Path:
    """The demo's state home (where the stack's config lives)."""
    return Path(info.config_path).parent if info.config_path else demo_home()


def main(argv: list[str] | None = None) -> int:
    """Run the demo; returns the exit code (0 told, 1 failed, 2 bad options, 130 stopped)."""
    args = argv if argv is not None else sys.argv[1:]
    examples = Path(args[0] if args else "examples").resolve()
    console = Console() if sys.stdout.isatty() else Console(width=SUMMARY_WIDTH)
    try:
        options = DemoOptions.from_env(examples)
    except FerrymanError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        return 2
    started = time.monotonic()
    home = demo_home()
    told = False
    try:
        enter_home(home)
        workspace = Workspace.create(examples / "shop", home / "shop")
        workspace.write_spec(
            options.bake, options.canary_weight, options.analysis_interval_s, options.margin
        )
        console.print(
            "starting the dev stack: Temporal (with its Web UI), worker, agent, dashboard…"
        )
        with running_stack(options.stack) as info:
            introduce(console, info, home)
            findings = asyncio.run(tell(info, options, workspace, console))
            findings.wall_s = time.monotonic() - started
            finish(console, findings, info, options)
            told = True
            if options.keep:
                console.print("the stack stays up for exploring; press Ctrl-C to stop it")
                while True:
                    time.sleep(3600)
    except KeyboardInterrupt:
        console.print("\nstopped; every process of the dev stack is down")
        return 0 if told else 130
    except FerrymanError as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        if isinstance(exc, DevStackError) and "already in use" in str(exc):
            console.print(
                "a stack of your own on the default ports? `ferryman down` stops it, or run"
                " `make demo DEMO_FREE_PORTS=1` beside it"
            )
        else:
            console.print(f"the dev stack is down; its logs are in {home / 'dev-logs'}")
        return 1
    console.print("dev stack stopped")
    return 0
