"""Semantic checks of ``environments.<env>.gates`` (see ``ferryman.spec.validate``).

- Two gates of one environment at the same point (``before-environment`` is the
  point before wave 1), and a wave number beyond the environment's waves.
- With a ferryman config (a :class:`Directory`): approvers and ``escalate-to``
  that are neither a user nor a group, and a ``required`` that more approvers
  than there are could not reach.

Waves are ``environments.<env>.rollout.waves`` when the spec has them, else one
region each in declaration order.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ferryman.errors import SpecIssue
from ferryman.identity.models import Directory
from ferryman.spec.gates import parse_point

if TYPE_CHECKING:
    from ferryman.spec.models import Spec
    from ferryman.spec.validate import Check, SpecDocument


def wave_count(environment: Mapping[Any, Any]) -> int:
    """The number of waves of a raw environment: its ``rollout.waves``, else its regions."""
    rollout = environment.get("rollout")
    waves = rollout.get("waves") if isinstance(rollout, Mapping) else None
    if isinstance(waves, list):
        return len(waves)
    regions = environment.get("regions")
    return len(regions) if isinstance(regions, Mapping) else 0


def _gates(doc: SpecDocument) -> Iterator[tuple[str, Mapping[Any, Any], str, Mapping[Any, Any]]]:
    for env_name, environment in doc.mapping(("environments",)).items():
        if not isinstance(environment, Mapping):
            continue
        gates = environment.get("gates")
        if not isinstance(gates, Mapping):
            continue
        for gate_name, gate in gates.items():
            if isinstance(gate, Mapping):
                yield str(env_name), environment, str(gate_name), gate


def check_gate_points(doc: SpecDocument, spec: Spec | None) -> Iterator[SpecIssue]:
    """At most one gate per point of an environment, and wave numbers within its waves.

    Args:
        doc: The located document.
        spec: Unused: the raw document is enough.

    Yields:
        One issue per clashing gate and per wave out of range, at its ``at``.
    """
    seen: dict[tuple[str, str, int | None], str] = {}
    for env, environment, name, gate in _gates(doc):
        at = gate.get("at")
        if not isinstance(at, str):
            continue
        try:
            point, wave = parse_point(at)
        except ValueError:
            continue  # reported by the model
        where = ("environments", env, "gates", name, "at")
        waves = wave_count(environment)
        if wave is not None and wave > waves:
            yield doc.issue(where, f"wave {wave} is beyond the {waves} wave(s) of {env}")
            continue
        key = (env, "before-wave", 1) if point == "before-environment" else (env, point, wave)
        if key in seen:
            also = " (before-environment is before wave 1)" if key[1:] == ("before-wave", 1) else ""
            yield doc.issue(where, f"gate {seen[key]!r} already stands at this point{also}")
        else:
            seen[key] = name


def gate_approvers_check(directory: Directory) -> Check:
    """A check of every gate's approvers and ``escalate-to`` against ``directory``."""

    def check_gate_approvers(doc: SpecDocument, spec: Spec | None) -> Iterator[SpecIssue]:
        from ferryman.spec.validate import suggest

        known = [*directory.users, *directory.groups]
        for env, _, name, gate in _gates(doc):
            for key in ("approvers", "escalate-to"):
                names = gate.get(key)
                if not isinstance(names, list):
                    continue
                for index, who in enumerate(names):
                    if isinstance(who, str) and directory.kind(who) is None:
                        yield doc.issue(
                            ("environments", env, "gates", name, key, index),
                            f"unknown user or group {who!r}{suggest(who, known)}",
                        )
            listed = gate.get("approvers")
            listed = listed if isinstance(listed, list) else []  # another shape: pydantic says
            approvers = [a for a in listed if isinstance(a, str)]
            required = gate.get("required", 1)
            users = directory.expand(approvers)
            if isinstance(required, int) and users and required > len(users):
                yield doc.issue(
                    ("environments", env, "gates", name, "required"),
                    f"required {required} but only {len(users)} approver(s): {', '.join(users)}",
                )

    return check_gate_approvers
