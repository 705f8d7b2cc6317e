"""Spec texts and helpers shared by the spec tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ferryman.errors import SpecError, SpecIssue
from ferryman.spec.load import load_spec_text

# Line numbers in the tests' expectations refer to this text.
GOOD = """\
system: hello
repos:
  hello:
    source: ./app
    build:
      steps:
        - name: build
          run: ./build.sh
          timeout-minutes: 2
    outputs: ["dist/**"]
services:
  web:
    artifact: hello
    run: python3 server.py
    health: {path: /healthz}
    replicas: 1
environments:
  dev:
    platform: local
    regions:
      local-1: {zones: [a]}
"""

# Line 9 has a word for a number, line 13 a misspelt repo, line 16 a misspelt key.
THREE_MISTAKES = (
    GOOD.replace("timeout-minutes: 2", "timeout-minutes: three")
    .replace("artifact: hello", "artifact: helo")
    .replace("    replicas: 1", "    replica: 1")
)


@pytest.fixture
def good_yaml() -> str:
    """A minimal valid spec."""
    return GOOD


@pytest.fixture
def three_mistakes_yaml() -> str:
    """The good spec with three unrelated mistakes."""
    return THREE_MISTAKES


@pytest.fixture
def edit() -> Callable[[str, str], str]:
    """Return a function that replaces the one occurrence of ``old`` in GOOD by ``new``."""

    def edited(old: str, new: str) -> str:
        assert GOOD.count(old) == 1, f"{old!r} is not unique in GOOD"
        return GOOD.replace(old, new)

    return edited


@pytest.fixture
def issues_of() -> Callable[[str], list[str]]:
    """Return a function that loads text as ``f.yaml`` and returns its issues as strings.

    Every issue is also checked to be readable: located, one line, lower-case start, and free
    of pydantic's wording.
    """
    return _issues_of


def _issues_of(text: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load_spec_text(text, "f.yaml")
    for issue in caught.value.issues:
        _assert_readable(issue)
    return [str(issue) for issue in caught.value.issues]


def _assert_readable(issue: SpecIssue) -> None:
    assert issue.line >= 1 and issue.column >= 1, issue
    assert "\n" not in issue.message, issue
    assert issue.message[:1] == issue.message[:1].lower(), issue
    assert "Input should" not in issue.message, issue
    assert "Value error" not in issue.message, issue
