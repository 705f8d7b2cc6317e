"""Code blocks and shell commands of the Markdown docs, as the docs tests read them.

Rules a page follows (see also ``test_commands.py``):

- A fenced block's language decides what it is: ``yaml``/``yml`` is a spec
  snippet, ``bash``/``sh``/``shell``/``console`` holds commands (``$ `` prompts
  are dropped).
- An HTML comment on the line just above a fence, invisible on GitHub, marks it:
  ``<!-- docs-test: fragment -->`` (YAML that is only part of a spec) or
  ``<!-- docs-test: skip: <reason> -->`` (commands that cannot run in a test).
- In a command block each line is one command (a trailing ``\\`` continues it);
  ``# …`` after it is a comment, and a comment with ``→ exit N`` says the
  command exits with ``N``; without one, 0 is expected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHELLS = frozenset({"bash", "sh", "shell", "console"})
YAMLS = frozenset({"yaml", "yml"})
_MARKER = re.compile(r"^\s*<!--\s*docs-test:\s*(?P<what>[a-z]+)\s*:?\s*(?P<why>.*?)\s*-->\s*$")
_EXIT = re.compile(r"→\s*exit\s+(\d+)")


@dataclass(frozen=True)
class Block:
    """One fenced code block.

    Attributes:
        file: The page, relative to the repository.
        line: The line of the block's first content line (1-based).
        lang: The fence's language, lower case.
        text: The content.
        marker: ``fragment`` or ``skip`` from a ``docs-test`` comment above it, or "".
        reason: The marker's reason.
    """

    file: str
    line: int
    lang: str
    text: str
    marker: str = ""
    reason: str = ""


@dataclass(frozen=True)
class Command:
    """One shell command of a block, where it is written and the exit it should have."""

    file: str
    line: int
    text: str
    expected_exit: int = 0

    @property
    def where(self) -> str:
        """``file:line`` for messages."""
        return f"{self.file}:{self.line}"


def pages() -> list[Path]:
    """The README and every page under docs/, in a stable order."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def blocks(page: Path) -> list[Block]:
    """Every fenced block of a page, with the marker written just above it."""
    lines = page.read_text(encoding="utf-8").splitlines()
    name = page.relative_to(ROOT).as_posix()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        fence = re.match(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)", lines[index])
        if not fence:
            index += 1
            continue
        indent, ticks, lang = fence.group(1), fence.group(2), fence.group(3).lower()
        marker = _MARKER.match(lines[index - 1]) if index > 0 else None
        body: list[str] = []
        end = index + 1
        while end < len(lines) and not lines[end].strip().startswith(ticks):
            body.append(lines[end][len(indent) :] if lines[end].startswith(indent) else lines[end])
            end += 1
        found.append(
            Block(
                file=name,
                line=index + 2,
                lang=lang,
                text="\n".join(body) + "\n",
                marker=marker.group("what") if marker else "",
                reason=marker.group("why") if marker else "",
            )
        )
        index = end + 1
    return found


def strip_comment(line: str) -> tuple[str, str]:
    """A shell line without its trailing ``# comment`` (quotes respected), and the comment."""
    quote = ""
    for position, char in enumerate(line):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "#" and (position == 0 or line[position - 1].isspace()):
            return line[:position].rstrip(), line[position + 1 :].strip()
    return line.rstrip(), ""


def commands(block: Block) -> list[Command]:
    """The commands of a shell block, continuation lines joined, comments read for exits."""
    found: list[Command] = []
    pending = ""
    start = 0
    for offset, raw in enumerate(block.text.splitlines()):
        line = raw[2:] if raw.startswith("$ ") else raw
        text, comment = strip_comment(line)
        if not pending:
            start = block.line + offset
        if text.endswith("\\"):
            pending += text[:-1] + " "
            continue
        text = (pending + text).strip()
        pending = ""
        if not text:
            continue
        match = _EXIT.search(comment)
        found.append(Command(block.file, start, text, int(match.group(1)) if match else 0))
    return found
