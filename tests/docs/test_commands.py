"""Every shell command shown in the README and docs/ runs, and exits as the text says.

Each page is a script, run on its own: a fresh copy of the repository's examples
(committed in one git repository, as in a fresh clone), a fresh ``FERRYMAN_HOME``
and a dev stack on free ports. Its ``bash`` blocks run in order, each command
with ``bash -c`` in the copy's root, where ``.venv/bin/ferryman`` and
``ferryman`` are this checkout's. What a page can rely on:

- ``ferryman dev …`` starts the page's stack (with ``--detach`` and the free
  ports added, the page's other flags kept); a command that needs a stack before
  any ``dev`` line gets one started for it.
- The default ports in a command (Temporal 7233, Web UI 8233, agent 7480, first
  router 7500, Prometheus 9090) are replaced by the stack's.
- A command exits 0 unless its comment says ``→ exit N``.
- A block that cannot run in a test is marked, with its reason, by
  ``<!-- docs-test: skip: <reason> -->`` on the line above its fence;
  ``SKIP_COMMANDS`` lists single commands skipped wherever they appear.

A failure names the page and line, the command, its exit and its last output.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ferryman.testing import free_port

from .markdown import ROOT, SHELLS, Command, blocks, commands, pages

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

SKIP_COMMANDS: dict[str, str] = {
    "make demo": "keeps a stack on the default ports until Ctrl-C",
    "make test": "the suite this test is part of",
    "make bench": "runs for minutes",
    ".ci/run": "installs Debian packages, then runs make test",
}
"""Commands (as written) never run, and why."""

NO_STACK = frozenset({"validate", "plan", "schema", "dev", "down", "--help"})
"""ferryman subcommands that need no running stack."""

_FERRYMAN = re.compile(r"^(?:\.venv/bin/)?ferryman\s+(\S+)")
_OUTPUT_LINES = 15


@dataclass
class Stack:
    """The page's dev stack: its ports, and whether it runs."""

    temporal: int = field(default_factory=free_port)
    ui: int = field(default_factory=free_port)
    agent: int = field(default_factory=free_port)
    router: int = field(default_factory=free_port)
    prometheus: int = field(default_factory=free_port)
    running: bool = False

    def flags(self) -> list[str]:
        return [
            "--temporal-port", str(self.temporal), "--ui-port", str(self.ui),
            "--agent-port", str(self.agent), "--router-base-port", str(self.router),
            "--prometheus-port", str(self.prometheus),
        ]  # fmt: skip

    def ports(self, text: str) -> str:
        """``text`` with the default ports replaced by this stack's."""
        for default, port in (
            (7233, self.temporal),
            (8233, self.ui),
            (7480, self.agent),
            (7500, self.router),
            (9090, self.prometheus),
        ):
            text = re.sub(rf"\b(127\.0\.0\.1|localhost):{default}\b", rf"\g<1>:{port}", text)
        return text


@dataclass
class Page:
    """Where a page's commands run, and what went wrong."""

    root: Path
    env: dict[str, str]
    stack: Stack = field(default_factory=Stack)
    failures: list[str] = field(default_factory=list)

    def run(self, script: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                ["bash", "-c", script],
                cwd=self.root,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else ""
            return subprocess.CompletedProcess(script, 124, out, f"timed out after {timeout:g}s")

    def start_stack(self, command: Command, extra: list[str]) -> None:
        if self.stack.running:
            self.run("ferryman down")
            self.stack = Stack()
        flags = [flag for flag in extra if flag not in ("--detach", "-d")]
        script = " ".join(["ferryman", "dev", "--detach", *self.stack.flags(), *flags])
        self.check(command, self.run(script), script, expected=0)
        self.stack.running = True

    def check(
        self,
        command: Command,
        done: subprocess.CompletedProcess[str],
        script: str,
        expected: int | None = None,
    ) -> None:
        want = command.expected_exit if expected is None else expected
        if done.returncode == want:
            return
        ran = f"\n  ran as: {script}" if script != command.text else ""
        self.failures.append(
            f"{command.where}: `{command.text}` exited {done.returncode}, the docs expect "
            f"{want}{ran}\n{_tail('stdout', done.stdout)}{_tail('stderr', done.stderr)}"
        )


def _tail(name: str, text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()][-_OUTPUT_LINES:]
    if not lines:
        return f"  {name}: (empty)\n"
    return f"  {name} (last {len(lines)} lines):\n" + "".join(f"    | {ln}\n" for ln in lines)


def _runnable(page: Path) -> list[Command]:
    found: list[Command] = []
    for block in blocks(page):
        if block.lang in SHELLS and block.marker != "skip":
            found += [c for c in commands(block) if c.text not in SKIP_COMMANDS]
    return found


PAGES = [page for page in pages() if _runnable(page)]


def _fresh_copy(workdir: Path) -> Path:
    """The repository's examples, committed twice in a new git repository, and its venv."""
    root = workdir / "ferryman"
    shutil.copytree(
        ROOT / "examples", root / "examples", ignore=shutil.ignore_patterns("__pycache__")
    )
    (root / ".venv").symlink_to(Path(sys.executable).parent.parent)
    identity = ["-c", "user.name=docs test", "-c", "user.email=docs@ferryman.invalid"]

    def git(*args: str) -> None:
        subprocess.run(["git", *identity, *args], cwd=root, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    (root / ".gitignore").write_text(".venv\n")
    git("add", "-A")
    git("commit", "-q", "-m", "examples")
    (root / "NOTES.md").write_text("a second commit, so that HEAD~1 exists\n")
    git("add", "-A")
    git("commit", "-q", "-m", "notes")
    return root


def _environment(home: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("FERRYMAN_") and key != "XDG_STATE_HOME"
    }
    bin_dir = str(Path(sys.executable).parent)
    env.update(
        FERRYMAN_HOME=str(home),
        COLUMNS="200",
        PATH=f"{bin_dir}:{env.get('PATH', '/usr/bin:/bin')}:/usr/sbin",
    )
    return env


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_command_of_the_page_runs(page: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    run = Page(_fresh_copy(tmp_path), _environment(home))
    try:
        for command in _runnable(page):
            words = command.text.split()
            match = _FERRYMAN.match(command.text)
            subcommand = match.group(1) if match else ""
            if subcommand == "dev":
                run.start_stack(command, words[2:])
                continue
            needs_stack = (match and subcommand not in NO_STACK) or words[0] == "curl"
            if needs_stack and not run.stack.running:
                run.start_stack(command, [])
            script = run.stack.ports(command.text)
            done = run.run(script)
            run.check(command, done, script)
            if subcommand == "down":
                run.stack.running = False
    finally:
        if run.stack.running:
            run.run("ferryman down")
    if run.failures:
        pytest.fail(
            f"{len(run.failures)} command(s) of {page.relative_to(ROOT)} did not run as the "
            "docs say:\n\n" + "\n".join(run.failures),
            pytrace=False,
        )


def test_the_docs_show_commands_that_run() -> None:
    assert any(page.name == "README.md" for page in PAGES)
    assert sum(len(_runnable(page)) for page in PAGES) >= 20
