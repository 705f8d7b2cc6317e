"""Running build steps: exit codes, logs, environment, timeouts, cancellation, idempotency."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from ferryman.build import StepResult, read_log, run_step
from ferryman.errors import BuildError
from ferryman.plan.models import StepPlan


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs; a killed zombie waiting for its reaper counts as gone."""
    if not Path("/proc/self/stat").exists():
        return _signalable(pid)
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def _signalable(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def read_or_empty(path: Path) -> str:
    return path.read_text().strip() if path.exists() else ""


async def wait_for_pids(path: Path) -> list[int]:
    for _ in range(200):
        if text := read_or_empty(path):
            return [int(pid) for pid in text.split()]
        await asyncio.sleep(0.05)
    raise AssertionError(f"{path} never appeared")


def wait_until_dead(pid: int, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not pid_alive(pid)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "ws"
    path.mkdir()
    return path


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "logs" / "01-step.log"


async def test_success_is_logged_with_a_header(workspace: Path, log_path: Path) -> None:
    step = StepPlan(name="greet", run="echo hello\necho oops >&2")
    result = await run_step(step, workspace, log_path)
    assert result.exit_code == 0
    assert not result.timed_out
    assert result.tail == "hello\noops"
    log = read_log(log_path)
    assert log.splitlines()[0].startswith("==> step 'greet'")
    assert "hello\noops\n" in log


async def test_non_zero_exit_is_returned_with_the_tail(workspace: Path, log_path: Path) -> None:
    lines = "\n".join(f"echo line{i}" for i in range(30))
    step = StepPlan(name="fail", run=f"{lines}\nfalse\necho never")
    result = await run_step(step, workspace, log_path)
    assert result.exit_code == 1
    tail = result.tail.splitlines()
    assert len(tail) == 20
    assert tail[-1] == "line29"
    assert "never" not in read_log(log_path)


async def test_bash_uses_pipefail(workspace: Path, log_path: Path) -> None:
    result = await run_step(StepPlan(name="p", run="false | cat"), workspace, log_path)
    assert result.exit_code == 1


@pytest.mark.parametrize(
    ("shell", "run"),
    [("sh", "echo $((6 * 7))"), ("python", "print(6 * 7)"), ("bash {0}", "echo 42")],
)
async def test_other_shells(workspace: Path, log_path: Path, shell: str, run: str) -> None:
    result = await run_step(StepPlan(name="s", run=run, shell=shell), workspace, log_path)
    assert (result.exit_code, result.tail) == (0, "42")


async def test_unknown_shell_is_a_setup_error(workspace: Path, log_path: Path) -> None:
    with pytest.raises(BuildError, match="unknown shell 'fish'"):
        await run_step(StepPlan(name="s", run="true", shell="fish"), workspace, log_path)


async def test_env_layers_and_working_directory(workspace: Path, log_path: Path) -> None:
    (workspace / "sub").mkdir()
    step = StepPlan(
        name="env",
        run='echo "$A $B $C" && pwd && echo "$HOME"',
        env={"B": "step", "C": "step"},
        working_directory="sub",
    )
    result = await run_step(step, workspace, log_path, env={"A": "caller", "B": "caller"})
    assert result.tail.splitlines() == [
        "caller step step",
        str((workspace / "sub").resolve()),
        os.environ["HOME"],
    ]


@pytest.mark.parametrize("directory", ["..", "sub/../..", "/tmp"])
async def test_working_directory_cannot_escape(
    workspace: Path, log_path: Path, directory: str
) -> None:
    step = StepPlan(name="esc", run="true", working_directory=directory)
    with pytest.raises(BuildError, match="leaves the workspace"):
        await run_step(step, workspace, log_path)


async def test_missing_working_directory_is_a_setup_error(workspace: Path, log_path: Path) -> None:
    step = StepPlan(name="m", run="true", working_directory="absent")
    with pytest.raises(BuildError, match="does not exist"):
        await run_step(step, workspace, log_path)


async def test_timeout_kills_the_whole_group(workspace: Path, log_path: Path) -> None:
    pid_file = workspace / "child.pid"
    step = StepPlan(name="slow", run=f"sleep 60 &\necho $! > {pid_file}\nwait", timeout_s=0.5)
    result = await run_step(step, workspace, log_path)
    assert result.timed_out
    assert result.exit_code != 0
    assert wait_until_dead(int(pid_file.read_text()))
    assert "(timed out)" in read_log(log_path)


async def test_background_processes_do_not_outlive_the_step(
    workspace: Path, log_path: Path
) -> None:
    pid_file = workspace / "bg.pid"
    step = StepPlan(name="bg", run=f"sleep 60 &\necho $! > {pid_file}")
    result = await run_step(step, workspace, log_path)
    assert result.exit_code == 0
    assert wait_until_dead(int(pid_file.read_text()))


async def test_heartbeat_reports_the_latest_line(workspace: Path, log_path: Path) -> None:
    # The step moves on only when a heartbeat has reported what it printed last,
    # so it takes as many heartbeats as it needs, however slow the machine.
    beats: list[str] = []

    def beat(line: str) -> None:
        beats.append(line)
        (workspace / f"seen-{line}").touch()

    wait = "for _ in $(seq 600); do [ -e seen-{0} ] && break; sleep 0.05; done; [ -e seen-{0} ]"
    script = f"echo starting\n{wait.format('starting')}\necho working\n{wait.format('working')}"
    result = await run_step(StepPlan(name="hb", run=script), workspace, log_path, heartbeat=beat)
    assert result.exit_code == 0, read_log(log_path)
    assert "starting" in beats and "working" in beats
    assert set(beats) <= {"", "starting", "working"}
    assert beats[-1] == "working"
    assert beats.index("working") > beats.index("starting")


async def test_recorded_result_is_returned_without_running_again(
    workspace: Path, log_path: Path
) -> None:
    step = StepPlan(name="once", run="echo ran >> counter.txt")
    first = await run_step(step, workspace, log_path)
    second = await run_step(step, workspace, log_path)
    assert second == first
    assert (workspace / "counter.txt").read_text() == "ran\n"
    marker = log_path.with_suffix(".result.json")
    assert marker.exists()


async def test_record_of_a_different_step_is_not_reused(workspace: Path, log_path: Path) -> None:
    await run_step(StepPlan(name="s", run="echo one"), workspace, log_path)
    result = await run_step(StepPlan(name="s", run="echo two"), workspace, log_path)
    assert result.tail == "two"


async def test_cancellation_kills_the_group_and_reraises(workspace: Path, log_path: Path) -> None:
    pid_file = workspace / "pids"
    step = StepPlan(name="cancel", run=f"sleep 60 &\necho $$ $! > {pid_file}\nwait")
    task = asyncio.create_task(run_step(step, workspace, log_path))
    pids = await wait_for_pids(pid_file)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(pids) == 2 and all(wait_until_dead(pid) for pid in pids)
    assert not log_path.with_suffix(".result.json").exists()


async def test_result_round_trips_through_json(workspace: Path, log_path: Path) -> None:
    result = await run_step(StepPlan(name="j", run="echo é"), workspace, log_path)
    assert StepResult.model_validate_json(result.model_dump_json()) == result
    assert result.tail == "é"


async def test_a_plain_command_sees_what_the_shell_would_export(
    workspace: Path, log_path: Path, tmp_path: Path
) -> None:
    # `env` alone runs without bash; `env # …` goes through bash: the same variables either way.
    for shell in ("bash", "sh"):
        direct = await run_step(StepPlan(name="d", run="env", shell=shell), workspace, log_path)
        through = await run_step(
            StepPlan(name="s", run="env # via the shell", shell=shell),
            workspace,
            tmp_path / "logs" / f"02-{shell}.log",
        )
        log_path.with_suffix(".result.json").unlink()
        assert direct.exit_code == through.exit_code == 0
        assert sorted(read_log(log_path).splitlines()[1:-1]) == sorted(
            read_log(tmp_path / "logs" / f"02-{shell}.log").splitlines()[1:-1]
        )


async def test_a_plain_command_exits_as_under_the_shell(workspace: Path, log_path: Path) -> None:
    result = await run_step(StepPlan(name="ls", run="ls no-such-file"), workspace, log_path)
    assert result.exit_code == 2
    assert "no-such-file" in result.tail


@pytest.mark.parametrize(
    ("run", "env", "direct"),
    [
        ("sleep 0.1", {}, True),
        ("make -j4 build CFLAGS=-O2", {}, True),
        ("echo hi", {}, False),  # a builtin
        ("A=1 env", {}, False),  # an assignment
        ("./build.sh", {}, False),  # a path: relative to the step's directory
        ("no-such-program-here", {}, False),  # the shell says "command not found"
        ("sleep $X", {}, False),
        ("ls *.txt", {}, False),
        ("sleep 1 && true", {}, False),
        ("sleep 1\nsleep 2", {}, False),
        ("sleep 0.1", {"BASH_ENV": "/etc/profile"}, False),
        ("sleep 0.1", {"SHELLOPTS": "xtrace"}, False),
        ("sleep 0.1", {"BASH_FUNC_sleep%%": "() { :; }"}, False),
        ("sleep 0.1", {"PATH": f".:{os.environ['PATH']}"}, False),
    ],
)
def test_only_one_plain_command_skips_the_shell(
    workspace: Path, run: str, env: dict[str, str], direct: bool
) -> None:
    from ferryman.build.steps import _direct

    full = {"PATH": os.environ["PATH"], **env}
    assert (_direct(StepPlan(name="x", run=run), workspace, full) is not None) is direct
    assert _direct(StepPlan(name="x", run=run, shell="python"), workspace, full) is None
