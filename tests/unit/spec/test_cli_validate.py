"""``ferryman validate FILE``: one line per issue, exit 2; or an ok summary, exit 0."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from ferryman.cli import validate as validate_module
from ferryman.cli.app import app


def _root() -> None:
    """Test group."""


def run(*args: str) -> Result:
    """Invoke the commands registered on ``app`` as a group.

    Typer turns an app with a single command into that command, so the tests wrap the
    registered commands in a group to call ``validate`` by name whatever else is loaded.
    """
    group = typer.Typer()
    group.callback()(_root)
    group.registered_commands.extend(app.registered_commands)
    return CliRunner().invoke(group, list(args))


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    return tmp_path / "ferryman.yaml"


def test_validate_is_registered_on_the_app() -> None:
    callbacks = [command.callback for command in app.registered_commands]

    assert validate_module.validate in callbacks


def test_good_file_prints_ok_summary_and_exits_0(spec_file: Path, good_yaml: str) -> None:
    spec_file.write_text(good_yaml, encoding="utf-8")

    result = run("validate", str(spec_file))

    assert result.exit_code == 0, result.output
    assert result.stdout == f"{spec_file}: ok (1 repo, 1 service, 1 environment)\n"
    assert result.stderr == ""


def test_summary_counts_in_plural(spec_file: Path, good_yaml: str) -> None:
    text = good_yaml.replace(
        "  hello:\n",
        "  other:\n    source: x\n    build: {steps: [{name: a, run: b}]}\n"
        "    outputs: [a]\n  hello:\n",
        1,
    )
    spec_file.write_text(text + "  prod:\n    regions: {r: {zones: [a]}}\n", encoding="utf-8")

    result = run("validate", str(spec_file))

    assert result.exit_code == 0, result.output
    assert result.stdout.endswith(": ok (2 repos, 1 service, 2 environments)\n")


def test_three_mistakes_print_three_lines_and_exit_2(
    spec_file: Path, three_mistakes_yaml: str
) -> None:
    spec_file.write_text(three_mistakes_yaml, encoding="utf-8")

    result = run("validate", str(spec_file))

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{spec_file}:9:28: repos.hello.build.steps[0].timeout-minutes: "
        "expected a number, got 'three'",
        f"{spec_file}:13:15: services.web.artifact: unknown repo 'helo' (did you mean 'hello'?)",
        f"{spec_file}:16:5: services.web.replica: unknown key 'replica' (did you mean 'replicas'?)",
        "3 errors",
    ]
    assert "Traceback" not in result.output


def test_missing_file_is_one_error_and_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"

    result = run("validate", str(missing))

    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"{missing}:1:1: file not found", "1 error"]
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize(
    "text",
    ["", "- a list\n", "system: [unclosed\n", "a: 1\na: 2\n", "system: !!int x\n"],
    ids=["empty", "list", "syntax", "duplicate", "bad-tag"],
)
def test_broken_yaml_never_shows_a_traceback(spec_file: Path, text: str) -> None:
    spec_file.write_text(text, encoding="utf-8")

    result = run("validate", str(spec_file))

    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert result.stderr.splitlines()[-1].endswith(("1 error", "errors"))
