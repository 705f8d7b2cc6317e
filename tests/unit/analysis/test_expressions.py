"""The threshold condition language: what it evaluates, and what it refuses."""

from __future__ import annotations

import math

import pytest

from ferryman.analysis import EvaluationError, ExpressionError, evaluate, parse


@pytest.mark.parametrize(
    ("condition", "result", "expected"),
    [
        ("result < 0.01", 0.005, True),
        ("result < 0.01", 0.01, False),
        ("result <= 0.01", 0.01, True),
        ("result[0] >= 0.95", [0.96, 0.1], True),
        ("result[-1] >= 0.95", [0.96, 0.1], False),
        ("result > 1 and not result > 5", 3.0, True),
        ("result > 1 && !(result > 5)", 6.0, False),
        ("result < 1 || result > 5", 6.0, True),
        ("result != 0", 0.0, False),
        ("0 < result < 1", 0.5, True),
        ("result * 100 < 2", 0.01, True),
        ("len(result) == 2 and max(result) < 1", [0.2, 0.3], True),
        ("abs(result - 1) < 0.1", 0.95, True),
        ("isNaN(result)", math.nan, True),
        ("true", 1.0, True),
    ],
)
def test_evaluates(condition: str, result: float | list[float], expected: bool) -> None:
    assert evaluate(condition, result) is expected
    assert evaluate(parse(condition), result) is expected


@pytest.mark.parametrize(
    ("condition", "words"),
    [
        ("__import__('os').system('true')", "__import__"),
        ("result.__class__", "attribute access"),
        ("open('x')", "can be called"),
        ("os > 1", "unknown name 'os'"),
        ("[x for x in result]", "a comprehension"),
        ("lambda: 1", "lambda"),
        ("result ** 1000000", "'**'"),
        ("'a' < 'b'", "only numbers"),
        ("result[1:2]", "whole number"),
        ("(x := 1)", "assignment"),
        ("result if 1 else 0", "if-else"),
        ("result <", "cannot parse"),
        ("", "empty condition"),
        ("x" * 600, "longer than"),
        ("max(result, key=abs) > 1", "can be called"),
    ],
)
def test_refuses_unsafe_or_malformed_with_one_line(condition: str, words: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        parse(condition)
    message = str(caught.value)
    assert words in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("condition", "result"),
    [
        ("result[3] > 0", [1.0]),
        ("result[0] > 0", 1.0),
        ("result > 0", [1.0, 2.0]),
        ("result / 0 > 1", 1.0),
        ("result + 1", 1.0),
    ],
)
def test_evaluation_errors(condition: str, result: float | list[float]) -> None:
    with pytest.raises(EvaluationError):
        evaluate(condition, result)


def test_deep_nesting_is_refused() -> None:
    with pytest.raises(ExpressionError, match="nested too deeply"):
        parse("not " * 40 + "result > 0")
