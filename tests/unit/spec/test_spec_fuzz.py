"""Bad input never escapes the spec loader as anything but a located ``SpecError``.

Property-based (hypothesis): arbitrary text, YAML made of YAML's own tokens, random data,
and the examples edited as text or mutated as data. Each either loads into a ``Spec`` or
raises ``SpecError`` whose every issue names a line and column inside the text and reads
as one line of ferryman's wording. The regressions below are what the fuzzing found.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ferryman.errors import SpecError
from ferryman.identity.models import Directory
from ferryman.spec.load import load_spec_text
from ferryman.spec.models import Spec

from .fuzzing import DIRECTORY, EXAMPLES, FUZZ, edited_examples, mutated_examples, yaml_texts


def load_or_located_error(text: str, directory: Directory | None = None) -> Spec | SpecError:
    """The spec ``text`` holds, or its ``SpecError`` once checked to be located and readable.

    With ``directory``, the gates' approvers are checked against it too.
    """
    try:
        return load_spec_text(text, "f.yaml", directory)
    except SpecError as error:
        assert error.issues, "a SpecError with no issue"
        lines = max(1, len(text.splitlines()) + 1)
        for issue in error.issues:
            assert issue.file == "f.yaml"
            assert 1 <= issue.line <= lines and issue.column >= 1, issue
            assert issue.message and "\n" not in issue.message, issue
            assert "Input should" not in issue.message and "Value error" not in issue.message
        return error


DIRECTORIES = st.sampled_from([None, DIRECTORY])


@pytest.mark.filterwarnings("ignore::ruamel.yaml.error.ReusedAnchorWarning")  # "&a … &a"
@FUZZ
@given(yaml_texts(), DIRECTORIES)
def test_any_text_is_a_spec_or_a_located_spec_error(text: str, directory: Directory) -> None:
    load_or_located_error(text, directory)


@FUZZ
@given(edited_examples(), DIRECTORIES)
def test_an_edited_example_is_a_spec_or_a_located_spec_error(
    text: str, directory: Directory
) -> None:
    load_or_located_error(text, directory)


@FUZZ
@given(mutated_examples(), DIRECTORIES)
def test_a_mutated_example_is_a_spec_or_a_located_spec_error(
    text: str, directory: Directory
) -> None:
    load_or_located_error(text, directory)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.parent.name)
def test_the_examples_the_fuzzing_starts_from_load(path: Path) -> None:
    assert isinstance(load_or_located_error(path.read_text(encoding="utf-8")), Spec)


# --- what the fuzzing found ---------------------------------------------------------------------

GOOD = EXAMPLES[0].read_text(encoding="utf-8")


def issues(text: str) -> list[str]:
    error = load_or_located_error(text)
    assert isinstance(error, SpecError), "expected the text to be refused"
    return [str(issue) for issue in error.issues]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # ruamel's constructors raised IndexError, KeyError or AttributeError on these.
        ("system: !!int\n", "f.yaml:1:9: invalid YAML value '' for !!int"),
        ("system: !!float\n", "f.yaml:1:9: invalid YAML value '' for !!float"),
        ("system: !!bool\n", "f.yaml:1:9: invalid YAML value '' for !!bool"),
        ("system: x\nrepos: [1, !!set x]\n", "f.yaml:2:12: invalid YAML value 'x' for !!set"),
        ("a: !!str x\nb: !!int 0x\n", "f.yaml:2:4: invalid YAML value '0x' for !!int"),
    ],
)
def test_a_value_its_tag_cannot_hold_is_located(text: str, expected: str) -> None:
    assert issues(text) == [expected]


def test_a_mapping_or_a_list_as_a_key_is_located() -> None:
    # TypeError (unhashable dict) escaped the loader.
    text = GOOD.replace("system: hello", "? {system: hello}\n: x\nservices:\n  ? [web]\n  : {}")
    assert issues(text) == [
        "f.yaml:2:3: a key must be a name, not a mapping",
        "f.yaml:5:5: services: a key must be a name, not a list",
    ]


@pytest.mark.parametrize("depth", [300, 700])  # construction, then composition, recurses too deep
@pytest.mark.parametrize("opening", ["[", "{a: "])
def test_collections_nested_beyond_reason_are_refused_not_a_recursion_error(
    opening: str, depth: int
) -> None:
    # RecursionError escaped the loader.
    closing = "]" if opening == "[" else "}"
    text = f"system: {opening * depth}1{closing * depth}\n"
    assert issues(text) == ["f.yaml:1:1: invalid YAML: collections nested too deeply"]


def test_approvers_that_are_not_a_list_are_located_when_a_config_checks_them() -> None:
    # TypeError ('int' object is not iterable) escaped the approvers' check.
    zones = "        zones: [a]\n"
    text = GOOD.replace(zones, zones + "    gates: {g: {at: before-environment, approvers: -1}}\n")
    error = load_or_located_error(text, DIRECTORY)
    assert isinstance(error, SpecError)
    assert [str(i) for i in error.issues] == [
        "f.yaml:34:52: environments.dev.gates.g.approvers: expected a list, got -1"
    ]
