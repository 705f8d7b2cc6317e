"""Every command's --help shows flags without a type and repeatable options as `<type>...`."""

from __future__ import annotations

import typer.main
from typer.testing import CliRunner

from ferryman.cli.app import _register, app


def _commands() -> list[list[str]]:
    _register()
    root = typer.main.get_command(app)
    paths: list[list[str]] = [[]]

    def walk(command: object, prefix: list[str]) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            paths.append([*prefix, name])
            walk(sub, [*prefix, name])

    walk(root, [])
    return paths


def test_no_help_shows_python_types_for_flags_or_lists() -> None:
    runner = CliRunner()
    seen = 0
    for path in _commands():
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "160"})
        assert result.exit_code == 0, (path, result.output)
        assert "<bool>" not in result.output, path
        assert "<list[" not in result.output, path
        seen += 1
    assert seen > 10
    build = runner.invoke(app, ["build", "--help"], env={"COLUMNS": "160"}).output
    assert "<str>..." in build and "--no-cache " in build
