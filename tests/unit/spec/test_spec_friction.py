"""What GitHub Actions users expect: steps without names, repos that only test, a directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferryman.build import ArtifactStore
from ferryman.build.provenance import ProvenanceStore, build_statement
from ferryman.cli.plan_view import command_line
from ferryman.errors import SpecError
from ferryman.plan.compile import compile_build
from ferryman.spec.load import load_spec, load_spec_text
from ferryman.spec.models import step_name

SPEC = """\
system: ci
repos:
  tests:
    source: ./tests
    build:
      steps:
        - run: python3 -m unittest -q
        - run: |
            ./lint.sh
            ./typecheck.sh
        - name: explicit
          run: "true"
"""


def test_a_step_without_a_name_is_named_after_its_command() -> None:
    spec = load_spec_text(SPEC, "f.yaml")
    names = [step.name for step in spec.repos["tests"].build.steps]
    assert names == ["run python3 -m unittest -q", "run ./lint.sh", "explicit"]
    assert step_name("x" * 100) == "run " + "x" * 43 + "…"


def test_an_empty_step_name_is_still_an_error() -> None:
    with pytest.raises(SpecError, match=r"steps\[0\]\.name: must not be empty"):
        load_spec_text(SPEC.replace("- run: python3", '- name: ""\n          run: python3'), "f")


def test_a_repo_without_outputs_builds_no_artifact(tmp_path: Path) -> None:
    spec = load_spec_text(SPEC, "f.yaml")
    assert spec.repos["tests"].outputs == ()
    (node,) = compile_build(spec, tmp_path / "ferryman.yaml").nodes
    assert node.outputs == ()

    store = ArtifactStore(tmp_path / "store")
    bundle = store.collect(tmp_path, node.outputs)
    assert bundle.files == {} and store.verify(bundle.digest) == []
    provenance = ProvenanceStore(store, tmp_path / "keys")
    statement = build_statement(
        node_id="tests",
        bundle=bundle,
        external={},
        commit="c",
        source="s",
        dependencies={},
        builder_id="b",
        invocation_id="i",
        started_on="t",
        finished_on="t",
    )
    provenance.save(bundle.digest, statement)
    assert not provenance.path(bundle.digest).exists(), "no artifact, so nothing to trace"


def test_a_directory_stands_for_the_ferryman_yaml_inside_it(tmp_path: Path) -> None:
    (tmp_path / "ferryman.yaml").write_text(SPEC)
    assert load_spec(tmp_path).system == "ci"
    with pytest.raises(SpecError) as caught:
        load_spec(tmp_path / "tests-missing")
    assert str(caught.value).endswith("tests-missing:1:1: file not found")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SpecError) as caught:
        load_spec(tmp_path / "empty")
    assert str(caught.value) == f"{tmp_path / 'empty' / 'ferryman.yaml'}:1:1: file not found"


def test_plan_marks_a_cut_command() -> None:
    assert command_line("make") == "make"
    assert command_line("mkdir -p dist\ncp a dist/\ncp b dist/") == "mkdir -p dist … (+2 lines)"
    assert command_line("echo one\necho two") == "echo one … (+1 line)"
    assert command_line("x" * 70) == "x" * 60 + " …"
