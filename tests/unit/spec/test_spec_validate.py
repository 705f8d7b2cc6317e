"""Semantic checks and the located document they report through."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ruamel.yaml import YAML

from ferryman.errors import SpecIssue
from ferryman.spec.models import Spec
from ferryman.spec.validate import (
    CHECKS,
    KNOWN_PLATFORMS,
    SpecDocument,
    check_platforms,
    check_service_artifacts,
    format_path,
    run_checks,
    suggest,
)


def document(text: str) -> SpecDocument:
    """Parse ``text`` with the round-trip loader, as ``load_spec_text`` does."""
    return SpecDocument("f.yaml", YAML(typ="rt").load(text))


def lines(issues: Iterator[SpecIssue] | list[SpecIssue]) -> list[str]:
    return [str(issue) for issue in issues]


@pytest.mark.parametrize(
    ("name", "candidates", "expected"),
    [
        ("helo", ["hello", "world"], " (did you mean 'hello'?)"),
        ("enviroment", ["env", "name", "run"], " (did you mean 'env'?)"),
        ("timeout", ["timeout-seconds", "path"], " (did you mean 'timeout-seconds'?)"),
        ("zzz", ["hello", "world"], ""),
        ("ab", ["abcdefgh"], ""),
        ("anything", [], ""),
    ],
)
def test_suggest(name: str, candidates: list[str], expected: str) -> None:
    assert suggest(name, candidates) == expected


def test_local_is_the_only_known_platform_for_now() -> None:
    assert frozenset({"local"}) == KNOWN_PLATFORMS


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ((), ""),
        (("system",), "system"),
        (("repos", "hello", "build", "steps", 1, "run"), "repos.hello.build.steps[1].run"),
        ((0, "a"), "[0].a"),
    ],
)
def test_format_path(path: tuple[str | int, ...], expected: str) -> None:
    assert format_path(path) == expected


def test_issue_points_at_value_or_key() -> None:
    doc = document("a:\n  b: [x, {c: 1}]\n")

    assert str(doc.issue(("a", "b", 1, "c"), "m")) == "f.yaml:2:14: a.b[1].c: m"
    assert str(doc.issue(("a", "b", 1, "c"), "m", at_key=True)) == "f.yaml:2:11: a.b[1].c: m"
    assert str(doc.issue(("a", "b", 0), "m")) == "f.yaml:2:7: a.b[0]: m"
    assert str(doc.issue((), "m")) == "f.yaml:1:1: m"


def test_issue_outside_the_document_points_at_the_deepest_node() -> None:
    doc = document("a:\n  b: [x]\n")

    assert str(doc.issue(("a", "b", 5, "c"), "m")) == "f.yaml:2:6: a.b[5].c: m"
    assert str(doc.issue(("a", "z", "y"), "m")) == "f.yaml:2:3: a.z.y: m"


def test_node_and_mapping_tolerate_wrong_shapes() -> None:
    doc = document("a: [1, 2]\nb: text\n")

    assert doc.node(("a", 1)) == 2
    assert doc.node(("a", 9)) is None
    assert doc.node(("b", "c")) is None
    assert doc.mapping(("a",)) == {}
    assert doc.mapping(("missing",)) == {}


def test_check_service_artifacts() -> None:
    doc = document(
        "repos: {hello: {outputs: [x]}, world: {outputs: [y]}}\n"
        "services:\n"
        "  ok: {artifact: hello}\n"
        "  typo: {artifact: wrld}\n"
        "  odd: {artifact: 3}\n"
        "  bare: just-text\n"
    )

    assert lines(check_service_artifacts(doc, None)) == [
        "f.yaml:4:20: services.typo.artifact: unknown repo 'wrld' (did you mean 'world'?)"
    ]


def test_a_service_of_a_repo_without_outputs_is_a_located_error() -> None:
    doc = document(
        "repos: {tests: {outputs: []}, lint: {}, app: {outputs: [dist]}}\n"
        "services:\n"
        "  web: {artifact: tests}\n"
        "  api: {artifact: lint}\n"
        "  ok: {artifact: app}\n"
    )

    assert lines(check_service_artifacts(doc, None)) == [
        "f.yaml:3:19: services.web.artifact: repo 'tests' has no outputs, so it builds "
        "nothing to run (give repos.tests.outputs the files the service needs)",
        "f.yaml:4:19: services.api.artifact: repo 'lint' has no outputs, so it builds "
        "nothing to run (give repos.lint.outputs the files the service needs)",
    ]


def test_check_service_artifacts_skips_when_repos_is_not_a_mapping() -> None:
    doc = document("repos: [hello]\nservices: {web: {artifact: hello}}\n")

    assert lines(check_service_artifacts(doc, None)) == []


def test_check_platforms() -> None:
    doc = document(
        "environments:\n"
        "  dev: {platform: local}\n"
        "  default: {}\n"
        "  cloud: {platform: aws}\n"
        "  broken: nope\n"
    )

    assert lines(check_platforms(doc, None)) == [
        "f.yaml:4:21: environments.cloud.platform: unknown platform 'aws' (known: local)"
    ]


def test_run_checks_runs_every_registered_check_in_order() -> None:
    doc = document(
        "repos: {a: {}}\nservices: {s: {artifact: b}}\nenvironments: {e: {platform: x}}\n"
    )

    assert [issue.path for issue in run_checks(doc, None)] == [
        "services.s.artifact",
        "environments.e.platform",
    ]
    assert check_service_artifacts in CHECKS
    assert check_platforms in CHECKS


def test_run_checks_accepts_extra_checks() -> None:
    calls: list[Spec | None] = []

    def no_regions(doc: SpecDocument, spec: Spec | None) -> list[SpecIssue]:
        calls.append(spec)
        return [doc.issue(("environments",), "no regions anywhere")]

    doc = document("environments: {}\n")

    issues = run_checks(doc, None, checks=[*CHECKS, no_regions])

    assert lines(issues) == ["f.yaml:1:15: environments: no regions anywhere"]
    assert calls == [None]


def test_checks_ignore_a_document_without_the_sections() -> None:
    assert run_checks(document("system: x\n"), None) == []
