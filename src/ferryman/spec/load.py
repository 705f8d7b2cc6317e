"""Load ``ferryman.yaml`` into a ``Spec``, reporting every problem with its line and column.

Loading happens in three passes, and every problem from all of them is reported at once:

1. YAML: the ruamel round-trip loader keeps a line/column mark on every node. A syntax
   error stops here with one located issue; duplicate keys are each reported.
2. Shape: ``Spec.model_validate`` on a plain copy of the data. Each pydantic error's
   ``loc`` is walked back through the YAML nodes to find its line and column, and its
   message is rephrased in one readable line.
3. Meaning: the semantic checks in ``ferryman.spec.validate``.

Example::

    spec = load_spec("ferryman.yaml")   # raises SpecError listing every issue
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from inspect import isclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.scalarbool import ScalarBoolean

from ferryman.errors import SpecError, SpecIssue
from ferryman.identity.models import Directory
from ferryman.spec.base import check_name
from ferryman.spec.models import Spec
from ferryman.spec.rollout import ROLLOUT_CHECKS
from ferryman.spec.validate import (
    PathPart,
    SpecDocument,
    checks_for,
    format_path,
    run_checks,
    suggest,
)

_MERGE_TAG = "tag:yaml.org,2002:merge"
_PLAIN_COLLECTIONS = frozenset({"tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"})


SPEC_NAME = "ferryman.yaml"
"""The spec file looked for in a directory given instead of a file."""


def spec_file(path: str | Path) -> Path:
    """The spec file ``path`` names: itself, or ``ferryman.yaml`` inside a directory.

    Example: ``spec_file("examples/shop")`` → ``examples/shop/ferryman.yaml``.
    """
    given = Path(path)
    return given / SPEC_NAME if given.is_dir() else given


def load_spec(path: str | Path, directory: Directory | None = None) -> Spec:
    """Read, parse and validate a spec file (or the ``ferryman.yaml`` in a directory).

    Args:
        path: The spec file, or a directory holding ``ferryman.yaml``; it is named
            in issues as given (with ``/ferryman.yaml`` for a directory).
        directory: The ferryman config; with it, gate approvers are checked too.

    Returns:
        The validated spec.

    Raises:
        SpecError: If the file cannot be read or has any problem; it lists all of them.
    """
    resolved = spec_file(path)
    file = str(path) if resolved == Path(path) else str(resolved)
    return load_spec_text(_read(resolved, file), file, directory)


def load_spec_text(text: str, file: str, directory: Directory | None = None) -> Spec:
    """Parse and validate spec text.

    Args:
        text: The YAML source.
        file: Name of the file the text came from, used in issues.
        directory: The ferryman config; with it, gate approvers are checked too.

    Returns:
        The validated spec.

    Raises:
        SpecError: If the text has any problem; issues are sorted by line and column.
    """
    root, issues = _parse(text, file)
    doc = SpecDocument(file, root)
    spec: Spec | None = None
    try:
        spec = Spec.model_validate(_plain(root, {}))
    except ValidationError as exc:
        issues.extend(issue for error in exc.errors() for issue in _pydantic_issues(doc, error))
    issues.extend(run_checks(doc, spec, (*checks_for(directory), *ROLLOUT_CHECKS)))
    if issues or spec is None:
        raise SpecError(_sorted(issues))
    return spec


def _sorted(issues: list[SpecIssue]) -> list[SpecIssue]:
    unique = dict.fromkeys(issues)
    return sorted(unique, key=lambda issue: (issue.line, issue.column, issue.path))


# --- reading -------------------------------------------------------------------------------


def _read(path: Path, file: str) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise _error_at_start(file, "file not found") from None
    except IsADirectoryError:
        raise _error_at_start(file, "is a directory, not a file") from None
    except PermissionError:
        raise _error_at_start(file, "cannot read file: permission denied") from None
    except UnicodeDecodeError as exc:
        line, column = _offset_position(path.read_bytes(), exc.start)
        message = "file is not valid UTF-8"
        raise SpecError([SpecIssue(file, line, column, "", message)]) from None
    except OSError as exc:
        raise _error_at_start(file, f"cannot read file: {_one_line(exc.strerror or exc)}") from None


def _error_at_start(file: str, message: str) -> SpecError:
    return SpecError([SpecIssue(file, 1, 1, "", message)])


def _offset_position(data: bytes, offset: int) -> tuple[int, int]:
    """Return the 1-based line and character column of byte ``offset``."""
    before = data[:offset]
    line_start = before.rfind(b"\n") + 1
    column = len(before[line_start:].decode("utf-8", errors="replace")) + 1
    return before.count(b"\n") + 1, column


# --- YAML ----------------------------------------------------------------------------------


def _parse(text: str, file: str) -> tuple[Any, list[SpecIssue]]:
    """Parse YAML into round-trip nodes; return the root mapping and duplicate-key issues."""
    try:
        node = YAML(typ="rt").compose(text)
    except MarkedYAMLError as exc:
        raise SpecError([_syntax_issue(exc, file)]) from None
    except YAMLError as exc:
        raise _error_at_start(file, f"invalid YAML: {_one_line(exc)}") from None
    except RecursionError:  # ruamel composes nested collections recursively
        raise _error_at_start(file, "invalid YAML: collections nested too deeply") from None
    complex_keys = list(_complex_keys(node, file))
    if complex_keys:  # no plain copy of the data could hold a mapping or list as a key
        raise SpecError(complex_keys)
    duplicates = list(_duplicate_keys(node, file))
    loader = YAML(typ="rt")
    loader.allow_duplicate_keys = True  # reported above, all of them, not just the first
    try:
        root = loader.load(text)
    except MarkedYAMLError as exc:
        raise SpecError([_syntax_issue(exc, file)]) from None
    except RecursionError:  # and constructs them recursively, with more frames per level
        raise _error_at_start(file, "invalid YAML: collections nested too deeply") from None
    except Exception as exc:  # a tagged value ruamel cannot construct fails in many ways
        raise SpecError([_unconstructible(node, file, exc)]) from None
    if root is None:
        raise _error_at_start(file, "file is empty; expected a mapping with 'system' and 'repos'")
    if not isinstance(root, Mapping):
        line, column = _mark(node.start_mark)
        message = f"expected a mapping at the top level, got {_describe(root)}"
        raise SpecError([SpecIssue(file, line, column, "", message)])
    return root, duplicates


def _unconstructible(root: Node, file: str, error: Exception) -> SpecIssue:
    """The issue of a value that does not fit its tag: ``!!int x``, ``!!int`` alone, ``!!set x``.

    The culprit is the first node, in the file's order, that fails to construct on
    its own (the plain ``seq`` and ``map`` collections fail only through an item).
    """
    candidates = [
        node
        for node, _ in _nodes(root)
        if isinstance(node, ScalarNode) or node.tag not in _PLAIN_COLLECTIONS
    ]
    for node in sorted(candidates, key=lambda node: _mark(node.start_mark)):
        try:
            YAML(typ="rt").constructor.construct_object(node, deep=True)
        except Exception as exc:  # as above: the value's own failure, whatever its type
            line, column = _mark(node.start_mark)
            tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
            value = f" {_describe(_one_line(node.value))}" if isinstance(node, ScalarNode) else ""
            why = f": {_one_line(exc)}" if _says_why(exc) else ""
            return SpecIssue(file, line, column, "", f"invalid YAML value{value} for {tag}{why}")
    return SpecIssue(file, 1, 1, "", f"invalid YAML value: {_one_line(error)}")


def _says_why(error: Exception) -> bool:
    """Whether ``error`` says more than that the value is not a number (``month must be…``)."""
    text = str(error)
    python = text.startswith(("invalid literal for", "could not convert"))
    return isinstance(error, ValueError | ArithmeticError) and bool(text) and not python


def _syntax_issue(exc: MarkedYAMLError, file: str) -> SpecIssue:
    mark = exc.problem_mark or exc.context_mark
    line, column = _mark(mark) if mark is not None else (1, 1)
    problem = exc.problem or exc.context or "cannot parse"
    if exc.context and problem.startswith("but "):
        problem = f"{exc.context}, {problem}"  # "expected a single document, but found another"
    return SpecIssue(file, line, column, "", f"invalid YAML: {_one_line(problem)}")


def _mark(mark: Any) -> tuple[int, int]:
    return int(mark.line) + 1, int(mark.column) + 1


def _duplicate_keys(root: Node | None, file: str) -> Iterator[SpecIssue]:
    """Yield one issue per repeated key in any mapping of the composed node graph."""
    for node, path in _nodes(root):
        if not isinstance(node, MappingNode):
            continue
        first: dict[tuple[str, str], int] = {}
        for key, _ in node.value:
            if not isinstance(key, ScalarNode) or key.tag == _MERGE_TAG:
                continue
            where = (str(key.tag), str(key.value))
            if where in first:
                line, column = _mark(key.start_mark)
                message = f"duplicate key {key.value!r} (first on line {first[where]})"
                yield SpecIssue(file, line, column, format_path((*path, key.value)), message)
            else:
                first[where] = _mark(key.start_mark)[0]


def _complex_keys(root: Node | None, file: str) -> Iterator[SpecIssue]:
    """Yield one issue per mapping or list used as a key (``? {a: 1}``), in any mapping."""
    for node, path in _nodes(root):
        if not isinstance(node, MappingNode):
            continue
        for key, _ in node.value:
            if not isinstance(key, ScalarNode):
                line, column = _mark(key.start_mark)
                kind = "mapping" if isinstance(key, MappingNode) else "list"
                message = f"a key must be a name, not a {kind}"
                yield SpecIssue(file, line, column, format_path(path), message)


def _nodes(root: Node | None) -> Iterator[tuple[Node, tuple[PathPart, ...]]]:
    """Every node of the composed graph (once each, aliases included once), with its path."""
    pending: list[tuple[Node | None, tuple[PathPart, ...]]] = [(root, ())]
    seen: set[int] = set()
    while pending:
        node, path = pending.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, SequenceNode):
            pending.extend((item, (*path, index)) for index, item in enumerate(node.value))
        elif isinstance(node, MappingNode):
            for key, value in node.value:
                name = key.value if isinstance(key, ScalarNode) else "?"
                pending.extend([(key, path), (value, (*path, name))])
        yield node, path


def _plain(node: Any, memo: dict[int, Any]) -> Any:
    """Copy round-trip data into plain ``dict``/``list``/``str``/``int``/``float``/``bool``.

    Shared (anchored) containers stay shared, so recursive aliases do not recurse forever.
    """
    if id(node) in memo:
        return memo[id(node)]
    if isinstance(node, Mapping):
        plain_map: dict[Any, Any] = {}
        memo[id(node)] = plain_map
        plain_map.update((_plain(k, memo), _plain(v, memo)) for k, v in node.items())
        return plain_map
    if isinstance(node, list):
        plain_list: list[Any] = []
        memo[id(node)] = plain_list
        plain_list.extend(_plain(item, memo) for item in node)
        return plain_list
    return _plain_scalar(node)


def _plain_scalar(value: Any) -> Any:
    if isinstance(value, ScalarBoolean | bool):
        return bool(value)
    for kind in (str, int, float):
        if isinstance(value, kind):
            return kind(value)
    return value


# --- pydantic errors -----------------------------------------------------------------------


def _pydantic_issues(doc: SpecDocument, error: ErrorDetails) -> list[SpecIssue]:
    loc: tuple[PathPart, ...] = tuple(error["loc"])
    kind = error["type"]
    if kind == "missing":
        return [doc.issue(loc[:-1], f"missing required key {loc[-1]!r}")]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        message = f"unknown key {key!r}{suggest(key, _field_keys(loc[:-1]))}"
        return [doc.issue(loc, message, at_key=True)]
    if loc and loc[-1] == "[key]":
        return [doc.issue(loc[:-1], _message(error), at_key=True)]
    if kind == "too_short" and _long_enough(doc.node(loc), error):
        return []  # pydantic counts only valid items; the invalid ones are reported already
    if kind == "value_error" and loc[-1:] != ("secrets",):  # secrets: variable names
        names = list(_bad_names(doc, loc))
        if names:
            return names
    return [doc.issue(loc, _message(error))]


def _long_enough(node: object, error: ErrorDetails) -> bool:
    least = int(error.get("ctx", {}).get("min_length", 1))
    return isinstance(node, Mapping | list) and len(node) >= least


def _bad_names(doc: SpecDocument, loc: tuple[PathPart, ...]) -> Iterator[SpecIssue]:
    """Point a name validator's error at each offending key or item, not at the container.

    The models check the keys of ``repos``, ``services``, ``environments`` and ``regions``
    and the items of ``zones`` in one validator on the container, which stops at the first
    bad name. This re-checks every name so each one gets its own located issue.
    """
    node = doc.node(loc)
    if isinstance(node, Mapping):
        for key in node:
            problem = _name_problem(key)
            if problem:
                yield doc.issue((*loc, key), problem, at_key=True)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            problem = _name_problem(item)
            if problem:
                yield doc.issue((*loc, index), problem)


def _name_problem(name: object) -> str:
    if not isinstance(name, str):
        return ""
    try:
        check_name(name)
    except ValueError as exc:
        return str(exc)
    return ""


def _field_keys(loc: Sequence[PathPart]) -> list[str]:
    """Return the YAML keys the model at ``loc`` accepts, for "did you mean" hints."""
    model = _model_at(loc)
    if model is None:
        return []
    return [field.alias or name for name, field in model.model_fields.items()]


def _model_at(loc: Sequence[PathPart]) -> type[BaseModel] | None:
    annotation: Any = Spec
    for part in loc:
        annotation = _child_annotation(_unwrap_optional(annotation), part)
    model = _unwrap_optional(annotation)
    return model if isclass(model) and issubclass(model, BaseModel) else None


def _child_annotation(annotation: Any, part: PathPart) -> Any:
    if isclass(annotation) and issubclass(annotation, BaseModel):
        for name, field in annotation.model_fields.items():
            if part in (name, field.alias):
                return field.annotation
        return None
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin is dict and len(args) == 2:
        return args[1]
    if origin in (tuple, list) and args:
        return args[0]
    return None


def _unwrap_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        options = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return options[0] if len(options) == 1 else annotation
    return annotation


_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
    "tuple_type": "a list",
}

_BOUNDS = {
    "greater_than": ("gt", "must be greater than"),
    "greater_than_equal": ("ge", "must be at least"),
    "less_than": ("lt", "must be less than"),
    "less_than_equal": ("le", "must be at most"),
}


def _message(error: ErrorDetails) -> str:
    """Phrase a pydantic error as one readable line starting in lower case."""
    kind = error["type"]
    ctx = error.get("ctx", {})
    value = error.get("input")
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {_describe(value)}"
    if kind in _BOUNDS:
        bound, phrase = _BOUNDS[kind]
        return f"{phrase} {_number(ctx[bound])}, got {_describe(value)}"
    if kind in ("string_too_short", "too_short"):
        least = int(ctx.get("min_length", 1))
        return "must not be empty" if least == 1 else f"must have at least {least} items"
    if kind in ("string_too_long", "too_long"):
        return f"must have at most {ctx.get('max_length')} items"
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return _lower_first(_one_line(ctx["error"]))
    return _lower_first(_one_line(error["msg"]))


def _describe(value: object) -> str:
    """Name a YAML value for a message: ``'three'``, ``1.5``, ``a list``, ``nothing``."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, AbstractSet):
        return "a set"
    return f"a {type(value).__name__}"


def _number(value: object) -> str:
    """Render a bound from pydantic: ``0.0`` as ``0``, ``0.5`` as ``0.5``, ``31536000.0`` whole."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]
