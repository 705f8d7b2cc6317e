"""Help that reads like the commands: no ``<bool>`` beside a flag, no ``<list[str]>``.

typer shows every option's Python type as its metavar, ``--help`` included. A
flag takes no value, so it gets none; a repeatable option shows its element
type once, followed by ``...``. ``install`` applies this to every command,
those added later included.
"""

from __future__ import annotations

import re
from typing import Any

from typer.core import TyperOption

_LIST = re.compile(r"^<list\[(.+)\]>$")
_original = TyperOption.display_type_rich


def _display_type(self: TyperOption, ctx: Any) -> str | None:
    shown = _original(self, ctx)
    if self.metavar is not None or shown is None:
        return shown
    if self.is_flag:
        return None
    listed = _LIST.match(shown)
    return f"<{listed.group(1)}>..." if listed else shown


def install() -> None:
    """Show flags without a type and repeatable options as ``<type>...`` in every help."""
    TyperOption.display_type_rich = _display_type  # type: ignore[method-assign]
