"""Running one build step, the way a GitHub Actions ``run:`` step runs.

The script is written to a temporary file and run by the step's shell in its
own process group, with stdout and stderr streamed into the log. A script
that is one simple command of plain words (``make build``, ``sleep 2``) under
``bash`` or ``sh`` is started directly instead, as GNU make does for such a
recipe: the program the shell would run, with the variables it would export,
without the shell's start-up (see ``_direct``). The group is killed on
timeout, on cancellation, and when the step ends (so a step leaves no
background processes behind). A finished step records its result next to
its log; running it again returns that record instead of running twice.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import hashlib
import json
import math
import os
import re
import shlex
import shutil
import signal
import tempfile
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from pydantic import BaseModel, ConfigDict, ValidationError

from ferryman.errors import BuildError
from ferryman.plan.models import StepPlan
from ferryman.platform.secrets import mask

HEARTBEAT_INTERVAL_S = 1.0
POLL_S = 0.01
FIRST_POLL_S = 0.001
KILL_GRACE_S = 2.0
DRAIN_S = 5.0
TAIL_LINES = 20
_MAX_LINE = 1000
_CHUNK = 1 << 16

_SHELLS: dict[str, tuple[str, ...]] = {
    "bash": ("bash", "--noprofile", "--norc", "-eo", "pipefail", "{0}"),
    "sh": ("sh", "-e", "{0}"),
    "python": ("python3", "{0}"),
}


_PLAIN_LINE = re.compile(r"[A-Za-z0-9_./:=,+@ -]+")
"""A line the shell would split on spaces and run as is: no quoting, expansion or operator."""

_BASH_WORDS = """
. : [ [[ ]] alias bg bind break builtin caller cd command compgen complete compopt continue
declare dirs disown echo enable eval exec exit export false fc fg getopts hash help history
jobs kill let local logout mapfile popd printf pushd pwd read readarray readonly return set
shift shopt source suspend test times trap true type typeset ulimit umask unalias unset wait
if then else elif fi case esac for select while until do done in function time coproc
"""
_SHELL_WORDS = frozenset(_BASH_WORDS.split())
"""bash's builtins and reserved words (``compgen -b -k``): the shell runs these itself."""

_SHELL_STARTUP = ("BASH_ENV", "ENV", "SHELLOPTS", "BASHOPTS")
"""Variables that make the shell read a file or change options before the command runs."""


class StepResult(BaseModel):
    """How a step ended.

    Attributes:
        exit_code: The shell's exit status; ``-N`` if it was killed by signal N.
        duration_s: Wall-clock time from start to exit.
        log_path: Where its output was written.
        timed_out: Whether it was killed for exceeding its timeout.
        tail: The last lines of its output (each clipped to 1000 characters).
    """

    model_config = ConfigDict(frozen=True)

    exit_code: int
    duration_s: float
    log_path: Path
    timed_out: bool
    tail: str


async def run_step(
    step: StepPlan,
    workspace: Path,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    heartbeat: Callable[[str], None] | None = None,
    secrets: Mapping[str, str] | None = None,
) -> StepResult:
    """Runs a step to completion, or returns its recorded result.

    Args:
        step: What to run, with which shell, where and for how long.
        workspace: The checkout; ``step.working_directory`` is relative to it.
        log_path: File receiving a header line and the step's output.
        env: Variables added to the worker's environment; ``step.env`` wins over them.
        heartbeat: Called with the latest output line at least every 2 seconds.
        secrets: The values of ``step.secrets``, by name: variables of the step,
            masked (``***``) in its log, tail and heartbeats, and left out of the
            recorded result's fingerprint.

    Returns:
        The result, whatever the exit code; a result recorded by an earlier
        run of the same step at the same ``log_path`` is returned as is.

    Raises:
        BuildError: The working directory or shell is invalid, or the shell cannot start.
        asyncio.CancelledError: The caller was cancelled; the step's processes are killed.
    """
    marker = log_path.with_suffix(".result.json")
    fingerprint = _fingerprint(step, env)
    recorded = _recorded(marker, fingerprint)
    if recorded is not None:
        return recorded
    cwd = _working_directory(workspace, step)
    full_env = {**os.environ, **(env or {}), **step.env, **(secrets or {})}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    masked = _masked(secrets or {})
    direct = _direct(step, cwd, full_env)
    if direct is not None:
        result = await _execute(step, direct, cwd, full_env, log_path, heartbeat, masked)
    else:
        with tempfile.TemporaryDirectory(prefix="ferryman-step-") as scratch:
            argv = _command(step, Path(scratch))
            result = await _execute(step, argv, cwd, full_env, log_path, heartbeat, masked)
    _record(marker, fingerprint, result)
    return result


@dataclass(frozen=True)
class _Direct:
    """A step's one simple command, started without its shell."""

    argv: list[str]
    executable: str
    env: dict[str, str]


def _direct(step: StepPlan, cwd: Path, env: dict[str, str]) -> _Direct | None:
    """The command to start in place of ``bash``/``sh`` running the script, if that is the same.

    Only a script of one line of plain words (letters, digits and ``_./:=,+@-``:
    nothing the shell would quote, expand, redirect or chain) whose first word
    is a program found on a ``PATH`` of absolute directories (not a builtin,
    reserved word or assignment), and only when nothing in the environment
    changes how the shell starts (``BASH_ENV``, ``ENV``, ``SHELLOPTS``,
    ``BASHOPTS``, exported functions).
    The program gets the variables the shell would export to it: ``PWD``, and
    for bash ``SHLVL`` + 1 and ``_`` (its path).
    """
    if step.shell not in ("bash", "sh"):
        return None
    line = step.run.strip()
    if not _PLAIN_LINE.fullmatch(line):
        return None
    if any(key in env for key in _SHELL_STARTUP) or any(k.startswith("BASH_FUNC_") for k in env):
        return None
    argv = line.split()
    if argv[0] in _SHELL_WORDS or "=" in argv[0] or "/" in argv[0]:
        return None
    search = env.get("PATH", os.defpath)
    if not all(os.path.isabs(entry) for entry in search.split(os.pathsep)):
        return None  # a relative entry (or an empty one: ".") is relative to the step's directory
    found = shutil.which(argv[0], path=search)
    if found is None:
        return None  # the shell reports "command not found" in its own words
    exported = {**env, "PWD": str(cwd)}
    if step.shell == "bash":
        level = env.get("SHLVL", "")
        exported["SHLVL"] = str(int(level) + 1 if level.isdigit() else 1)
        exported["_"] = found
    return _Direct(argv=argv, executable=found, env=exported)


def _masked(secrets: Mapping[str, str]) -> tuple[str, ...]:
    """What to mask: each value, and each line of a value of several (a PEM key)."""
    lines = (line.strip() for value in secrets.values() for line in value.splitlines())
    return (*secrets.values(), *(line for line in lines if len(line) >= 4))


def _working_directory(workspace: Path, step: StepPlan) -> Path:
    root = workspace.resolve()
    cwd = (root / step.working_directory).resolve()
    if not cwd.is_relative_to(root):
        raise BuildError(
            f"step {step.name!r}: working-directory {step.working_directory!r} leaves the workspace"
        )
    if not cwd.is_dir():
        raise BuildError(
            f"step {step.name!r}: working-directory {step.working_directory!r} "
            f"does not exist in {root}"
        )
    return cwd


def _command(step: StepPlan, scratch: Path) -> list[str]:
    """The argv running the step's script, which is written into ``scratch``.

    Besides the named shells, a command template containing ``{0}`` (as in
    GitHub Actions, e.g. ``perl {0}``) is accepted.
    """
    template = _SHELLS.get(step.shell)
    if template is None and "{0}" in step.shell:
        template = tuple(shlex.split(step.shell))
    if template is None:
        raise BuildError(
            f"step {step.name!r}: unknown shell {step.shell!r} "
            "(use bash, sh, python or a command containing {0})"
        )
    script = scratch / ("step.py" if step.shell == "python" else "step.sh")
    script.write_text(step.run if step.run.endswith("\n") else step.run + "\n", encoding="utf-8")
    return [part.replace("{0}", str(script)) for part in template]


async def _execute(
    step: StepPlan,
    argv: list[str] | _Direct,
    cwd: Path,
    env: dict[str, str],
    log_path: Path,
    heartbeat: Callable[[str], None] | None,
    masked: tuple[str, ...] = (),
) -> StepResult:
    started = time.monotonic()
    with log_path.open("w", encoding="utf-8", errors="replace", buffering=1) as log:
        log.write(f"==> step {step.name!r} ({step.shell}) in {cwd}\n")
        proc = await _spawn(step, argv, cwd, env)
        output = _Output(log, masked)
        try:
            timed_out = await _supervise(proc, output, step.timeout_s, heartbeat)
        except BaseException:
            _signal_group(proc, signal.SIGKILL)
            raise
        duration = time.monotonic() - started
        exit_code = proc.returncode
        assert exit_code is not None, "_supervise returns only once the shell has exited"
        if isinstance(argv, _Direct) and exit_code < 0 and not timed_out:
            exit_code = 128 - exit_code  # the shell's status for a command killed by a signal
        ending = " (timed out)" if timed_out else ""
        log.write(f"==> exit {exit_code} after {duration:.1f}s{ending}\n")
    return StepResult(
        exit_code=exit_code,
        duration_s=duration,
        log_path=log_path,
        timed_out=timed_out,
        tail=output.tail(),
    )


async def _spawn(
    step: StepPlan, argv: list[str] | _Direct, cwd: Path, env: dict[str, str]
) -> asyncio.subprocess.Process:
    if isinstance(argv, _Direct):
        args, executable, env = argv.argv, argv.executable, argv.env
    else:
        args, executable = argv, argv[0]
    try:
        return await asyncio.create_subprocess_exec(
            *args,
            executable=executable,
            cwd=cwd,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        raise BuildError(
            f"step {step.name!r}: cannot start {args[0]}: {exc.strerror or exc}"
        ) from exc


async def _supervise(
    proc: asyncio.subprocess.Process,
    output: _Output,
    timeout_s: float,
    heartbeat: Callable[[str], None] | None,
) -> bool:
    """Waits for the step and drains its output; True if it timed out."""
    assert proc.stdout is not None
    pump = asyncio.create_task(_pump(proc.stdout, output))
    try:
        timed_out = await _wait_for_exit(proc, timeout_s, lambda: _beat(heartbeat, output))
        _signal_group(proc, signal.SIGKILL)
        await asyncio.wait({pump}, timeout=DRAIN_S)
    finally:
        pump.cancel()
    return timed_out


async def _wait_for_exit(
    proc: asyncio.subprocess.Process, timeout_s: float, beat: Callable[[], None]
) -> bool:
    """Waits for the shell to exit, beating regularly; True if it had to be killed."""
    deadline = time.monotonic() + timeout_s
    while not await _exits_by(proc, min(deadline, time.monotonic() + HEARTBEAT_INTERVAL_S)):
        if time.monotonic() >= deadline:
            await _terminate(proc)
            return True
        beat()
    return False


def _beat(heartbeat: Callable[[str], None] | None, output: _Output) -> None:
    if heartbeat is not None:
        heartbeat(output.last_line)


async def _terminate(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM to the group, then SIGKILL if the shell is still there after a grace period."""
    _signal_group(proc, signal.SIGTERM)
    if not await _exits_by(proc, time.monotonic() + KILL_GRACE_S):
        _signal_group(proc, signal.SIGKILL)
        await _exits_by(proc, math.inf)


async def _exits_by(proc: asyncio.subprocess.Process, deadline: float) -> bool:
    """Whether the shell has exited by ``deadline`` (a ``time.monotonic()`` value).

    Not ``Process.wait()``: before Python 3.12 it also waits for every pipe to
    close, which a leftover background process can delay indefinitely. On Linux
    a pidfd tells the moment the shell exits; elsewhere the exit is polled, at
    first every millisecond, then every ``POLL_S``.
    """
    if proc.returncode is None:
        await _pidfd_exit(proc.pid, deadline)
    interval = FIRST_POLL_S
    while proc.returncode is None and time.monotonic() < deadline:
        await asyncio.sleep(interval)
        interval = min(POLL_S, interval * 1.5)
    return proc.returncode is not None


async def _pidfd_exit(pid: int, deadline: float) -> None:
    """Wait until process ``pid`` exits or ``deadline`` passes, if pidfds are available."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        return
    loop = asyncio.get_running_loop()
    exited = asyncio.Event()
    try:
        loop.add_reader(fd, exited.set)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(exited.wait(), max(0.0, deadline - time.monotonic()))
    finally:
        loop.remove_reader(fd)
        os.close(fd)


def _signal_group(proc: asyncio.subprocess.Process, sig: signal.Signals) -> None:
    # The shell leads its own session, so its pid is the group id.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


async def _pump(stream: asyncio.StreamReader, output: _Output) -> None:
    while chunk := await stream.read(_CHUNK):
        output.feed(chunk)
    output.feed(b"", final=True)


class _Output:
    """Streams decoded output into the log and keeps the last lines.

    With secrets to mask, the log receives whole lines only, each masked, so a
    value cut in two by a read is still found.
    """

    def __init__(self, log: TextIO, masked: tuple[str, ...] = ()) -> None:
        self._log = log
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._lines: deque[str] = deque(maxlen=TAIL_LINES)
        self._partial = ""
        self._masked = masked
        self._pending = ""

    def feed(self, data: bytes, final: bool = False) -> None:
        text = self._decoder.decode(data, final)
        if self._masked:
            self._feed_masked(text, final)
            return
        self._log.write(text)
        *complete, partial = (self._partial + text).split("\n")
        self._lines.extend(_clip(line) for line in complete)
        self._partial = partial[-_MAX_LINE:]
        if final and self._partial:
            self._log.write("\n")
            self._lines.append(self._partial)
            self._partial = ""

    def _feed_masked(self, text: str, final: bool) -> None:
        *complete, self._pending = (self._pending + text).split("\n")
        if final and self._pending:
            complete.append(self._pending)
            self._pending = ""
        for line in complete:
            clean = mask(line, self._masked)
            self._log.write(clean + "\n")
            self._lines.append(_clip(clean))
        self._partial = mask(self._pending[-_MAX_LINE:], self._masked)
        if len(self._pending) > _CHUNK:  # a very long line: write all but a secret's length
            keep = max(map(len, self._masked))
            head, self._pending = self._pending[:-keep], self._pending[-keep:]
            self._log.write(mask(head, self._masked))

    @property
    def last_line(self) -> str:
        """The latest non-blank line, complete or not; ``""`` before any output."""
        candidates = [self._partial, *reversed(self._lines)]
        return next((line.strip() for line in candidates if line.strip()), "")

    def tail(self) -> str:
        lines = [*self._lines, self._partial] if self._partial else list(self._lines)
        return "\n".join(lines[-TAIL_LINES:])


def _clip(line: str) -> str:
    line = line.rstrip("\r")
    return line if len(line) <= _MAX_LINE else line[: _MAX_LINE - 1] + "…"


def _fingerprint(step: StepPlan, env: Mapping[str, str] | None) -> str:
    """Identifies the inputs, so a record left by a different step is not reused."""
    inputs = {"step": step.model_dump(mode="json"), "env": dict(sorted((env or {}).items()))}
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def _recorded(marker: Path, fingerprint: str) -> StepResult | None:
    try:
        record = json.loads(marker.read_text(encoding="utf-8"))
        if record.get("fingerprint") != fingerprint:
            return None
        return StepResult.model_validate(record["result"])
    except (OSError, ValueError, KeyError, AttributeError, ValidationError):
        return None


def _record(marker: Path, fingerprint: str, result: StepResult) -> None:
    record = {"fingerprint": fingerprint, "result": result.model_dump(mode="json")}
    partial = marker.with_name(marker.name + ".partial")
    partial.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    partial.replace(marker)
