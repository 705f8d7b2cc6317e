"""Add labels to the samples of a Prometheus text exposition (services' own ``/metrics``).

The agent serves every instance's metrics in one scrape, each sample labelled
with where it came from::

    add_labels(['shop_conversions_total 3'], {"version": "v2"})
    # ['shop_conversions_total{version="v2"} 3']
"""

from __future__ import annotations

import re

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?(\s+.*)$")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def add_labels(lines: list[str], labels: dict[str, str]) -> list[str]:
    """Each sample line with ``labels`` added (existing labels of the same name are kept first).

    Comment lines (``# HELP``/``# TYPE``) are dropped when they were already
    seen, so families from several instances can be concatenated; blank and
    malformed lines are dropped.
    """
    extra = ",".join(f'{name}="{_escape(value)}"' for name, value in labels.items())
    out = []
    for line in lines:
        match = _SAMPLE.match(line.strip())
        if match is None:
            continue
        name, existing, rest = match.groups()
        if not _is_number(rest.split()[0]):
            continue
        inner = existing[1:-1].rstrip(",") if existing else ""
        taken = set(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', inner))
        added = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items() if k not in taken)
        merged = ",".join(part for part in (inner, added) if part) if inner else extra
        out.append(f"{name}{{{merged}}}{rest}")
    return out


def comments(lines: list[str]) -> list[str]:
    """The ``# HELP`` and ``# TYPE`` lines of an exposition."""
    return [line for line in lines if line.startswith(("# HELP ", "# TYPE "))]
