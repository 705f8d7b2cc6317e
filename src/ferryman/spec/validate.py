"""Semantic checks on a loaded ``ferryman.yaml`` that the pydantic models cannot express.

Each check is one small function that takes the located YAML document (and the validated
spec, when validation succeeded) and yields ``SpecIssue`` objects. The checks read the raw
YAML so that they still run, and still point at the right line, when pydantic has already
rejected some other part of the file. A check skips anything whose shape is wrong; pydantic
reports that.

To add a check, write a function with the ``Check`` signature and append it to ``CHECKS``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ferryman.dag import find_cycle
from ferryman.errors import SpecIssue
from ferryman.identity.models import Directory
from ferryman.spec.custom_step_checks import check_custom_steps
from ferryman.spec.gate_checks import check_gate_points, gate_approvers_check
from ferryman.spec.models import Spec

KNOWN_PLATFORMS: frozenset[str] = frozenset({"local"})
"""Platforms an environment may name; one provider implements each."""

PathPart = str | int
"""One step of a YAML path: a mapping key or a sequence index."""


def suggest(name: str, candidates: Iterable[str]) -> str:
    """Return a "did you mean" hint for a misspelt name.

    A candidate is suggested when it is close by ``difflib`` ratio, or, failing that, when one
    of the two names is a prefix (of at least three letters) of the other, so that
    ``enviroment`` still finds ``env``.

    Args:
        name: The name the user wrote.
        candidates: The names that would have been accepted.

    Returns:
        `` (did you mean 'x'?)`` for the closest candidate, or ``""`` if none is close.
    """
    pool = sorted(str(candidate) for candidate in candidates)
    close = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    if not close:
        close = [c for c in pool if min(len(c), len(name)) >= 3 and _prefix_related(name, c)]
    return f" (did you mean {close[0]!r}?)" if close else ""


def _prefix_related(first: str, second: str) -> bool:
    return first.startswith(second) or second.startswith(first)


def format_path(path: Sequence[PathPart]) -> str:
    """Render a YAML path as dotted keys with ``[i]`` for sequence indexes.

    Used when the document cannot tell keys from indexes (the path left the document).

    Args:
        path: Keys and indexes from the document root.

    Returns:
        A path such as ``repos.hello.build.steps[1].run``.
    """
    text = ""
    for part in path:
        text += _path_step(part, is_index=isinstance(part, int), first=not text)
    return text


def _path_step(part: PathPart, *, is_index: bool, first: bool) -> str:
    if is_index:
        return f"[{part}]"
    return str(part) if first else f".{part}"


@dataclass(frozen=True)
class SpecDocument:
    """A parsed spec file whose nodes remember where they came from.

    Attributes:
        file: Path of the spec file as the user gave it.
        root: The top-level mapping from the ruamel round-trip loader; its containers carry
            ``.lc`` line/column marks.
    """

    file: str
    root: Any

    def node(self, path: Sequence[PathPart]) -> Any:
        """Return the raw node at ``path``, or ``None`` if the path does not exist.

        Args:
            path: Keys and indexes from the document root.

        Returns:
            The node (a mapping, sequence or scalar), or ``None``.
        """
        node = self.root
        for part in path:
            node = _child(node, part)
            if node is None:
                return None
        return node

    def mapping(self, path: Sequence[PathPart]) -> Mapping[Any, Any]:
        """Return the mapping at ``path``, or an empty one if it is missing or not a mapping.

        Args:
            path: Keys and indexes from the document root.

        Returns:
            The mapping, for checks that iterate without caring why it is absent.
        """
        node = self.node(path)
        return node if isinstance(node, Mapping) else {}

    def issue(self, path: Sequence[PathPart], message: str, *, at_key: bool = False) -> SpecIssue:
        """Build an issue located at the node for ``path``.

        If the path leaves the document, the issue points at the deepest node that exists
        but still names the full path.

        Args:
            path: Keys and indexes from the document root.
            message: What is wrong, in one line.
            at_key: Point at the mapping key of the last step instead of its value.

        Returns:
            The located issue.
        """
        text, line, column = self._locate(path, at_key=at_key)
        return SpecIssue(self.file, line + 1, column + 1, text, message)

    def _locate(self, path: Sequence[PathPart], *, at_key: bool) -> tuple[str, int, int]:
        line, column = _start(self.root)
        text = ""
        node = self.root
        for depth, part in enumerate(path):
            if not _has(node, part):
                return _join(text, format_path(path[depth:])), line, column
            child = node[part]
            key = child is None or (at_key and depth == len(path) - 1)
            text += _path_step(part, is_index=not isinstance(node, Mapping), first=not text)
            line, column = _position(node, part, key=key)
            node = child
        return text, line, column


def _join(prefix: str, rest: str) -> str:
    if prefix and rest and not rest.startswith("["):
        return f"{prefix}.{rest}"
    return prefix + rest


def _has(node: Any, part: PathPart) -> bool:
    if isinstance(node, Mapping):
        try:
            return part in node
        except TypeError:
            return False
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


def _child(node: Any, part: PathPart) -> Any:
    return node[part] if _has(node, part) else None


def _start(node: Any) -> tuple[int, int]:
    lc = getattr(node, "lc", None)
    if lc is None or lc.line is None:
        return 0, 0
    return int(lc.line), int(lc.col)


def _position(parent: Any, part: PathPart, *, key: bool) -> tuple[int, int]:
    """Return the 0-based mark of a key or value inside ``parent``, or the parent's own."""
    lc: Any = getattr(parent, "lc", None)
    try:
        if isinstance(parent, Mapping):
            mark = lc.key(part) if key else lc.value(part)
        else:
            mark = lc.item(part)
    except (AttributeError, KeyError, IndexError, TypeError):
        return _start(parent)
    if mark is None or mark[0] is None:
        return _start(parent)
    return int(mark[0]), int(mark[1])


Check = Callable[[SpecDocument, Spec | None], Iterable[SpecIssue]]
"""A semantic check: the located document and, if it validated, the spec."""


def check_service_artifacts(doc: SpecDocument, spec: Spec | None) -> Iterator[SpecIssue]:
    """Every ``services.<name>.artifact`` must name a repo in ``repos`` that has outputs.

    Args:
        doc: The located document.
        spec: The validated spec, unused: the raw document is enough.

    Yields:
        One issue per service whose artifact is not a known repo, or a repo without
        outputs.
    """
    repos = doc.node(("repos",))
    if not isinstance(repos, Mapping):
        return
    names = [str(name) for name in repos]
    for name, service in doc.mapping(("services",)).items():
        artifact = service.get("artifact") if isinstance(service, Mapping) else None
        if isinstance(artifact, str) and artifact not in repos:
            message = f"unknown repo {artifact!r}{suggest(artifact, names)}"
            yield doc.issue(("services", name, "artifact"), message)
        elif isinstance(artifact, str) and not _has_outputs(repos[artifact]):
            message = (
                f"repo {artifact!r} has no outputs, so it builds nothing to run "
                f"(give repos.{artifact}.outputs the files the service needs)"
            )
            yield doc.issue(("services", name, "artifact"), message)


def _has_outputs(repo: object) -> bool:
    """Whether a raw repo mapping declares outputs (a malformed one is left to pydantic)."""
    if not isinstance(repo, Mapping) or "outputs" not in repo:
        return False
    outputs = repo["outputs"]
    return not isinstance(outputs, list) or bool(outputs)


def check_platforms(doc: SpecDocument, spec: Spec | None) -> Iterator[SpecIssue]:
    """Every ``environments.<name>.platform`` must be in ``KNOWN_PLATFORMS``.

    Args:
        doc: The located document.
        spec: The validated spec, unused: the raw document is enough.

    Yields:
        One issue per environment on an unknown platform.
    """
    for name, environment in doc.mapping(("environments",)).items():
        platform = environment.get("platform") if isinstance(environment, Mapping) else None
        if isinstance(platform, str) and platform not in KNOWN_PLATFORMS:
            hint = suggest(platform, KNOWN_PLATFORMS) or _known(KNOWN_PLATFORMS)
            message = f"unknown platform {platform!r}{hint}"
            yield doc.issue(("environments", name, "platform"), message)


def _needs(doc: SpecDocument) -> dict[str, list[tuple[int, str]]]:
    """Repo → its ``needs`` entries that are strings, with their indexes."""
    result: dict[str, list[tuple[int, str]]] = {}
    for name, repo in doc.mapping(("repos",)).items():
        needs = repo.get("needs") if isinstance(repo, Mapping) else None
        entries = needs if isinstance(needs, list) else []
        result[str(name)] = [(i, n) for i, n in enumerate(entries) if isinstance(n, str)]
    return result


def check_needs_known(doc: SpecDocument, spec: Spec | None) -> Iterator[SpecIssue]:
    """Every ``repos.<name>.needs`` entry must name another repo.

    Args:
        doc: The located document.
        spec: The validated spec, unused: the raw document is enough.

    Yields:
        One issue per unknown name and per self-edge.
    """
    graph = _needs(doc)
    for name, needs in graph.items():
        for index, need in needs:
            where = ("repos", name, "needs", index)
            if need == name:
                yield doc.issue(where, f"repo {name!r} cannot need itself")
            elif need not in graph:
                yield doc.issue(where, f"unknown repo {need!r}{suggest(need, graph)}")


def check_needs_acyclic(doc: SpecDocument, spec: Spec | None) -> Iterator[SpecIssue]:
    """The ``needs`` edges between repos must not form a cycle.

    Args:
        doc: The located document.
        spec: The validated spec, unused: the raw document is enough.

    Yields:
        One issue per cycle, naming its full path, at the edge that closes it.
    """
    graph = {
        name: [n for _, n in needs if n != name and n in _needs(doc)]
        for name, needs in _needs(doc).items()
    }
    reported: set[frozenset[str]] = set()
    while (cycle := find_cycle(graph)) is not None:
        members = frozenset(cycle)
        if members in reported:
            break
        reported.add(members)
        last, first = cycle[-2], cycle[-1]
        index = next(i for i, n in _needs(doc)[last] if n == first)
        yield doc.issue(("repos", last, "needs", index), "dependency cycle: " + " → ".join(cycle))
        graph[last] = [n for n in graph[last] if n != first]


def check_canary_templates(doc: SpecDocument, spec: Spec | None) -> Iterator[SpecIssue]:
    """Every template a canary's ``analysis`` step names must be in ``analysis.templates``.

    Args:
        doc: The located document.
        spec: The validated spec, unused: the raw document is enough.

    Yields:
        One issue per unknown template name, at the name.
    """
    templates = [str(name) for name in doc.mapping(("analysis", "templates"))]
    for name in doc.mapping(("services",)):
        where = ("services", name, "strategy", "canary", "steps")
        steps = doc.node(where)
        for index, step in enumerate(steps if isinstance(steps, list) else []):
            analysis = step.get("analysis") if isinstance(step, Mapping) else None
            names = analysis.get("templates") if isinstance(analysis, Mapping) else None
            for position, template in enumerate(names if isinstance(names, list) else []):
                if isinstance(template, str) and template not in templates:
                    hint = suggest(template, templates) or (
                        _known(templates) if templates else " (analysis.templates is empty)"
                    )
                    path = (*where, index, "analysis", "templates", position)
                    yield doc.issue(path, f"unknown analysis template {template!r}{hint}")


def _known(names: Iterable[str]) -> str:
    return " (known: " + ", ".join(sorted(names)) + ")"


CHECKS: tuple[Check, ...] = (
    check_service_artifacts,
    check_platforms,
    check_needs_known,
    check_needs_acyclic,
    check_canary_templates,
    check_gate_points,
    check_custom_steps,
)
"""Every semantic check, run in this order by ``run_checks``."""


def checks_for(directory: Directory | None) -> tuple[Check, ...]:
    """``CHECKS``, plus the checks of gate approvers against ``directory`` when there is one."""
    return CHECKS if directory is None else (*CHECKS, gate_approvers_check(directory))


def run_checks(
    doc: SpecDocument, spec: Spec | None, checks: Iterable[Check] = CHECKS
) -> list[SpecIssue]:
    """Run semantic checks and collect their issues.

    Args:
        doc: The located document.
        spec: The validated spec, or ``None`` if pydantic rejected the document.
        checks: The checks to run; all of ``CHECKS`` by default.

    Returns:
        Every issue found, in check order.
    """
    return [issue for check in checks for issue in check(doc, spec)]
