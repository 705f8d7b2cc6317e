"""How a followed release ended, as a process exit code (``ferryman release``, ``status --watch``).

Example::

    result, error = await follow(client, handle, console)
    raise typer.Exit(exit_code(result))
"""

from __future__ import annotations

from rich.text import Text

from ferryman.temporal.models.release import ReleaseProgress, ReleaseResult

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_NOT_FOUND = 4
EXIT_ROLLED_BACK = 5
EXIT_REJECTED = 6
EXIT_ABORTED = 7
EXIT_PARTIAL = 8

EXIT_HELP = (
    "Exit codes: 0 succeeded (or nothing to change); 1 failed (every switched region was "
    "restored); 2 bad arguments or Temporal unreachable; 3 no identity; 4 no such release; "
    "5 rolled back; 6 rejected at a gate; 7 aborted; 8 partial (some regions failed within "
    "the failure budget)."
)

BY_STATUS = {
    "succeeded": EXIT_OK,
    "unchanged": EXIT_OK,
    "partial": EXIT_PARTIAL,
    "rolled-back": EXIT_ROLLED_BACK,
    "rejected": EXIT_REJECTED,
    "aborted": EXIT_ABORTED,
}


def exit_code(result: ReleaseResult | None) -> int:
    """The exit code of a release that ended with ``result`` (None: it failed)."""
    return EXIT_FAILED if result is None else BY_STATUS.get(result.status, EXIT_FAILED)


def build_line(progress: ReleaseProgress) -> Text | None:
    """``build 4/6 done (2 cached) · 1 running`` for a release's build DAG, or None."""
    if not progress.nodes:
        return None
    states = list(progress.nodes.values())
    done = sum(s in ("succeeded", "cached") for s in states)
    parts = [f"build {done}/{len(states)} done"]
    if cached := states.count("cached"):
        parts[0] += f" ({cached} cached)"
    for state in ("running", "failed", "skipped", "cancelled"):
        if count := states.count(state):
            parts.append(f"{count} {state}")
    style = "red" if "failed" in states else ("green" if done == len(states) else "yellow")
    return Text(" · ".join(parts), style=style)
