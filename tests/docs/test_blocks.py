"""The docs' code blocks say what they hold, so the docs tests can run them."""

from __future__ import annotations

import re

from .markdown import SHELLS, YAMLS, blocks, pages

_COMMAND = re.compile(r"^\s*(\$ )?(\.venv/bin/|ferryman |curl |make |python3? |\.ci/)")


def test_blocks_of_commands_are_tagged_as_shell() -> None:
    untagged = [
        f"{block.file}:{block.line}: a block of commands without a language; tag it "
        "```bash (or ```text for output)"
        for page in pages()
        for block in blocks(page)
        if block.lang not in SHELLS | YAMLS
        and any(_COMMAND.match(line) for line in block.text.splitlines())
    ]
    assert not untagged, "\n".join(untagged)


def test_every_skip_says_why() -> None:
    silent = [
        f"{block.file}:{block.line}: `docs-test: {block.marker}` needs a reason"
        for page in pages()
        for block in blocks(page)
        if block.marker == "skip" and not block.reason
    ]
    assert not silent, "\n".join(silent)
