"""Loading ``ferryman.yaml``: good specs become models, bad ones yield located issues.

Shape errors (what pydantic rejects) are in ``test_spec_load_shapes.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ferryman.errors import SpecError, SpecIssue
from ferryman.spec.load import load_spec, load_spec_text

Edit = Callable[[str, str], str]
IssuesOf = Callable[[str], list[str]]


# --- good specs ----------------------------------------------------------------------------


def test_good_spec_becomes_models(good_yaml: str) -> None:
    spec = load_spec_text(good_yaml, "f.yaml")

    assert spec.system == "hello"
    repo = spec.repos["hello"]
    assert repo.source == "./app"
    assert repo.outputs == ("dist/**",)
    step = repo.build.steps[0]
    assert (step.name, step.run, step.timeout_minutes) == ("build", "./build.sh", 2.0)
    assert step.working_directory == "."
    service = spec.services["web"]
    assert (service.artifact, service.health.path, service.replicas) == ("hello", "/healthz", 1)
    assert spec.environments["dev"].regions["local-1"].zones == ("a",)


def test_good_spec_values_are_plain_python_types(edit: Edit) -> None:
    text = edit("run: ./build.sh", "run: |\n            ./build.sh\n            ./test.sh")
    text = text.replace("timeout-minutes: 2", "timeout-minutes: 2.5")

    step = load_spec_text(text, "f.yaml").repos["hello"].build.steps[0]

    assert type(step.run) is str
    assert step.run == "./build.sh\n./test.sh\n"
    assert type(step.timeout_minutes) is float


def test_yaml_aliases_and_merge_keys_are_followed(edit: Edit) -> None:
    text = edit("    source: ./app\n", "    <<: &base {source: ./app}\n")

    assert load_spec_text(text, "f.yaml").repos["hello"].source == "./app"


def test_load_spec_reads_a_file(tmp_path: Path, good_yaml: str) -> None:
    path = tmp_path / "ferryman.yaml"
    path.write_text(good_yaml, encoding="utf-8")

    assert load_spec(path).system == "hello"
    assert load_spec(str(path)).system == "hello"


# --- semantic errors -----------------------------------------------------------------------

SEMANTIC_CASES = [
    pytest.param(
        "artifact: hello",
        "artifact: helo",
        ["f.yaml:13:15: services.web.artifact: unknown repo 'helo' (did you mean 'hello'?)"],
        id="unknown-repo-with-hint",
    ),
    pytest.param(
        "artifact: hello",
        "artifact: zzz",
        ["f.yaml:13:15: services.web.artifact: unknown repo 'zzz'"],
        id="unknown-repo-without-hint",
    ),
    pytest.param(
        "platform: local",
        "platform: locl",
        [
            "f.yaml:19:15: environments.dev.platform: "
            "unknown platform 'locl' (did you mean 'local'?)"
        ],
        id="unknown-platform-with-hint",
    ),
    pytest.param(
        "platform: local",
        "platform: aws",
        ["f.yaml:19:15: environments.dev.platform: unknown platform 'aws' (known: local)"],
        id="unknown-platform-lists-known",
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), SEMANTIC_CASES)
def test_semantic_error_is_located(
    old: str, new: str, expected: list[str], edit: Edit, issues_of: IssuesOf
) -> None:
    assert issues_of(edit(old, new)) == expected


def test_semantic_checks_run_even_when_the_shape_is_wrong(edit: Edit, issues_of: IssuesOf) -> None:
    text = edit("artifact: hello", "artifact: helo").replace("replicas: 1", "replicas: x")

    assert issues_of(text) == [
        "f.yaml:13:15: services.web.artifact: unknown repo 'helo' (did you mean 'hello'?)",
        "f.yaml:16:15: services.web.replicas: expected an integer, got 'x'",
    ]


# --- several mistakes at once --------------------------------------------------------------


def test_three_mistakes_give_three_located_issues_in_file_order(three_mistakes_yaml: str) -> None:
    with pytest.raises(SpecError) as caught:
        load_spec_text(three_mistakes_yaml, "f.yaml")

    assert caught.value.issues == [
        SpecIssue(
            "f.yaml",
            9,
            28,
            "repos.hello.build.steps[0].timeout-minutes",
            "expected a number, got 'three'",
        ),
        SpecIssue(
            "f.yaml",
            13,
            15,
            "services.web.artifact",
            "unknown repo 'helo' (did you mean 'hello'?)",
        ),
        SpecIssue(
            "f.yaml",
            16,
            5,
            "services.web.replica",
            "unknown key 'replica' (did you mean 'replicas'?)",
        ),
    ]
    assert str(caught.value).count("\n") == 2


# --- YAML-level errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "system: hello\nrepos:\n  a: b: c\n",
            "f.yaml:3:7: invalid YAML: mapping values are not allowed here",
            id="mapping-value-in-scalar",
        ),
        pytest.param(
            "system: hello\nrepos: [a, b\n",
            "f.yaml:3:1: invalid YAML: expected ',' or ']', but got '<stream end>'",
            id="unclosed-flow-sequence",
        ),
        pytest.param(
            "system: hello\n\trepos: {}\n",
            "f.yaml:2:1: invalid YAML: found character '\\t' that cannot start any token",
            id="tab-indent",
        ),
        pytest.param(
            "system: a\n---\nsystem: b\n",
            "f.yaml:2:1: invalid YAML: "
            "expected a single document in the stream, but found another document",
            id="two-documents",
        ),
        pytest.param(
            "system: *nowhere\n",
            "f.yaml:1:9: invalid YAML: found undefined alias 'nowhere'",
            id="undefined-alias",
        ),
        pytest.param(
            "system: !!int x\n",
            "f.yaml:1:9: invalid YAML value 'x' for !!int",
            id="bad-explicit-tag",
        ),
        pytest.param(
            "",
            "f.yaml:1:1: file is empty; expected a mapping with 'system' and 'repos'",
            id="empty",
        ),
        pytest.param(
            "# just a comment\n",
            "f.yaml:1:1: file is empty; expected a mapping with 'system' and 'repos'",
            id="comment-only",
        ),
        pytest.param(
            "# a list\n- system\n- repos\n",
            "f.yaml:2:1: expected a mapping at the top level, got a list",
            id="top-level-list",
        ),
        pytest.param(
            "hello\n",
            "f.yaml:1:1: expected a mapping at the top level, got 'hello'",
            id="top-level-scalar",
        ),
    ],
)
def test_yaml_error_is_one_located_issue(text: str, expected: str, issues_of: IssuesOf) -> None:
    assert issues_of(text) == [expected]


def test_every_duplicate_key_is_reported(edit: Edit, issues_of: IssuesOf) -> None:
    text = edit("run: ./build.sh\n", "run: ./build.sh\n          run: ./again.sh\n")
    text += "system: again\n"

    assert issues_of(text) == [
        "f.yaml:9:11: repos.hello.build.steps[0].run: duplicate key 'run' (first on line 8)",
        "f.yaml:23:1: system: duplicate key 'system' (first on line 1)",
    ]


def test_duplicate_keys_and_shape_errors_are_reported_together(
    edit: Edit, issues_of: IssuesOf
) -> None:
    text = edit("replicas: 1", "replicas: 1\n    replicas: 2\n    replica: 3")

    assert issues_of(text) == [
        "f.yaml:17:5: services.web.replicas: duplicate key 'replicas' (first on line 16)",
        "f.yaml:18:5: services.web.replica: unknown key 'replica' (did you mean 'replicas'?)",
    ]


# --- reading files -------------------------------------------------------------------------


def test_missing_file_is_one_issue(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"

    with pytest.raises(SpecError) as caught:
        load_spec(path)

    assert [str(issue) for issue in caught.value.issues] == [f"{path}:1:1: file not found"]


def test_directory_without_a_spec_is_one_issue(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        load_spec(tmp_path)

    spec = tmp_path / "ferryman.yaml"
    assert [str(i) for i in caught.value.issues] == [f"{spec}:1:1: file not found"]


def test_file_is_named_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edit: Edit
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("ferryman.yaml").write_text(edit("replicas: 1", "replicas: 0"), encoding="utf-8")

    with pytest.raises(SpecError) as caught:
        load_spec("./ferryman.yaml")

    assert str(caught.value).startswith("./ferryman.yaml:16:15: services.web.replicas: ")


def test_non_utf8_file_points_at_the_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"system: hello\nrepos: caf\xe9\n")

    with pytest.raises(SpecError) as caught:
        load_spec(path)

    assert [str(i) for i in caught.value.issues] == [f"{path}:2:11: file is not valid UTF-8"]


def test_non_utf8_column_counts_characters(tmp_path: Path) -> None:
    path = tmp_path / "mixed.yaml"
    path.write_bytes(b"system: h\xc3\xa9llo \xff\n")  # "é" is two bytes, one column

    with pytest.raises(SpecError) as caught:
        load_spec(path)

    assert [str(i) for i in caught.value.issues] == [f"{path}:1:15: file is not valid UTF-8"]


def test_byte_order_mark_is_ignored(tmp_path: Path, good_yaml: str) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + good_yaml.encode())

    assert load_spec(path).system == "hello"
