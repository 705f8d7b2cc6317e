"""A live display that leaves its last picture intact, on a terminal or in a pipe."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.live import Live


@contextmanager
def live_display(console: Console, refresh_per_second: float = 4) -> Iterator[Live]:
    """A ``rich`` Live whose final picture ends with a newline, even when not a terminal.

    ``Live`` ends its last picture with a line break only on a terminal; in a pipe
    or a file, whatever is printed next would be glued to its last line.
    """
    with Live(console=console, refresh_per_second=refresh_per_second, transient=False) as live:
        yield live
    if not console.is_terminal:
        console.line()
