"""A small, safe expression language for threshold conditions over ``result``.

Conditions read like Argo Rollouts' ``successCondition``: ``result < 0.01``,
``result[0] >= 0.95``, ``result > 1 and not result > 5``. They are parsed with
:mod:`ast` and every node is checked against a whitelist before anything is
evaluated by a tiny interpreter here; nothing is ever passed to ``eval``.

Grammar (Python's, restricted): numbers, ``true``/``false``, the name
``result``, indexing with a whole number (``result[0]``, ``result[-1]``),
``+ - * /``, comparisons (chains allowed), ``and or not`` (also spelled
``&& || !``), and the functions ``len``, ``abs``, ``min``, ``max``, ``sum`` and
``isNaN``. ``result`` is a number or a list of numbers.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable, Sequence
from typing import Any

Value = float | list[float]
"""What ``result`` can be: one number or a list of numbers."""

MAX_LENGTH = 500
_MAX_DEPTH = 32

_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_ARITHMETIC: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": len,
    "abs": abs,
    "min": min,
    "max": max,
    "sum": sum,
    "isNaN": _is_nan,
}
_NAMES = {"result", "true", "false", *_FUNCTIONS}


class ExpressionError(ValueError):
    """A condition is malformed or uses something the language does not allow."""


class EvaluationError(ValueError):
    """A valid condition could not be evaluated on this ``result``."""


def parse(text: str) -> ast.Expression:
    """Parse and check a condition.

    Args:
        text: The condition, e.g. ``result < 0.01``.

    Returns:
        The checked syntax tree, ready for :func:`evaluate`.

    Raises:
        ExpressionError: With a one-line message, if it is malformed or unsafe.
    """
    if not text.strip():
        raise ExpressionError("empty condition")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"condition is longer than {MAX_LENGTH} characters")
    source = _argo_spelling(text.strip())
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as error:
        raise ExpressionError(f"cannot parse condition {text!r}: {error.msg}") from None
    _check(tree.body, text, 0)
    return tree


def evaluate(tree: ast.Expression | str, result: Value) -> bool:
    """Evaluate a condition on ``result``.

    Args:
        tree: A tree from :func:`parse`, or the condition's text.
        result: The measurement: a number or a list of numbers.

    Returns:
        Whether the condition holds.

    Raises:
        ExpressionError: If ``tree`` is text that does not parse.
        EvaluationError: If it cannot be evaluated (bad index, list compared to a
            number, division by zero) or does not give true or false.
    """
    checked = parse(tree) if isinstance(tree, str) else tree
    try:
        value = _eval(checked.body, result)
    except (IndexError, TypeError, ValueError, ZeroDivisionError, OverflowError) as error:
        raise EvaluationError(f"cannot evaluate on result={result!r}: {error}") from None
    if not isinstance(value, bool):
        raise EvaluationError(f"condition gives {value!r}, not true or false")
    return value


def _argo_spelling(text: str) -> str:
    """Accept Argo's ``&&``, ``||`` and ``!`` as ``and``, ``or`` and ``not``."""
    text = text.replace("&&", " and ").replace("||", " or ")
    return re.sub(r"!(?!=)", " not ", text)


def _check(node: ast.AST, text: str, depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise ExpressionError(f"condition {text!r} is nested too deeply")
    allowed = (
        ast.BoolOp,
        ast.UnaryOp,
        ast.Compare,
        ast.BinOp,
        ast.Name,
        ast.Constant,
        ast.Subscript,
        ast.Call,
        ast.And,
        ast.Or,
        ast.Not,
        ast.USub,
        ast.UAdd,
        ast.Load,
        *_COMPARE,
        *_ARITHMETIC,
    )
    if not isinstance(node, allowed):
        raise ExpressionError(f"{_describe(node)} is not allowed in condition {text!r}")
    if isinstance(node, ast.Name) and node.id not in _NAMES:
        raise ExpressionError(f"unknown name {node.id!r} in condition {text!r}; use 'result'")
    if isinstance(node, ast.Constant) and not isinstance(node.value, int | float):
        raise ExpressionError(f"only numbers are allowed as constants in condition {text!r}")
    if isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name not in _FUNCTIONS or node.keywords:
            raise ExpressionError(
                f"only {', '.join(_FUNCTIONS)} can be called in condition {text!r}"
            )
        for arg in node.args:
            _check(arg, text, depth + 1)
        return
    if isinstance(node, ast.Subscript):
        index = node.slice
        if isinstance(index, ast.UnaryOp) and isinstance(index.op, ast.USub):
            index = index.operand
        if not (isinstance(index, ast.Constant) and type(index.value) is int):
            raise ExpressionError(f"index result with a whole number in condition {text!r}")
        if not (isinstance(node.value, ast.Name) and node.value.id == "result"):
            raise ExpressionError(f"only result can be indexed in condition {text!r}")
        return
    for child in ast.iter_child_nodes(node):
        _check(child, text, depth + 1)


def _describe(node: ast.AST) -> str:
    names = {
        ast.Attribute: "attribute access",
        ast.Lambda: "lambda",
        ast.IfExp: "if-else",
        ast.Dict: "a mapping",
        ast.List: "a list literal",
        ast.Tuple: "a tuple",
        ast.ListComp: "a comprehension",
        ast.GeneratorExp: "a comprehension",
        ast.NamedExpr: "assignment",
        ast.Pow: "'**'",
        ast.FloorDiv: "'//'",
        ast.Mod: "'%'",
        ast.In: "'in'",
        ast.NotIn: "'not in'",
        ast.Is: "'is'",
        ast.IsNot: "'is not'",
        ast.Starred: "'*'",
        ast.Slice: "a slice",
    }
    return names.get(type(node), type(node).__name__)


def _eval(node: ast.AST, result: Value) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id == "result":
            return result
        if node.id == "true":
            return True
        if node.id == "false":
            return False
        raise TypeError(f"{node.id} is a function")
    if isinstance(node, ast.Subscript):
        if not isinstance(result, list):
            raise TypeError("result is a number, not a list")
        index = node.slice
        sign = -1 if isinstance(index, ast.UnaryOp) else 1
        position = sign * int(_constant(index.operand if isinstance(index, ast.UnaryOp) else index))
        return result[position]
    if isinstance(node, ast.BoolOp):
        return _bool_op(node, result)
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand, result)
        if isinstance(node.op, ast.Not):
            return not _truth(operand)
        number = _number(operand)
        return -number if isinstance(node.op, ast.USub) else number
    if isinstance(node, ast.BinOp):
        left, right = _number(_eval(node.left, result)), _number(_eval(node.right, result))
        return _ARITHMETIC[type(node.op)](left, right)
    if isinstance(node, ast.Compare):
        return _compare(node, result)
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        args = [_eval(arg, result) for arg in node.args]
        return _FUNCTIONS[node.func.id](*args)
    raise TypeError(f"unexpected {type(node).__name__}")  # unreachable after _check


def _constant(node: ast.AST) -> Any:
    assert isinstance(node, ast.Constant)
    return node.value


def _bool_op(node: ast.BoolOp, result: Value) -> bool:
    values = (_truth(_eval(value, result)) for value in node.values)
    return all(values) if isinstance(node.op, ast.And) else any(values)


def _compare(node: ast.Compare, result: Value) -> bool:
    left = _number(_eval(node.left, result))
    for op, comparator in zip(node.ops, node.comparators, strict=True):
        right = _number(_eval(comparator, result))
        if not _COMPARE[type(op)](left, right):
            return False
        left = right
    return True


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        kind = "a list" if isinstance(value, Sequence) else type(value).__name__
        raise TypeError(f"expected a number, got {kind}")
    return float(value)


def _truth(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, got {value!r}")
    return value
