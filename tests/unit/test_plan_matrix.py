"""Matrix expansion and the build plan's nodes, edges and artifact legs."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferryman.errors import PlanError, SpecError
from ferryman.plan.compile import artifact_node, compile_build
from ferryman.plan.matrix import expand_matrix, node_id
from ferryman.spec.load import load_spec_text
from ferryman.spec.models import Spec
from ferryman.temporal.names import build_task_queue


def test_product_exclude_and_include_like_github_actions() -> None:
    legs = expand_matrix(
        {"os": ("linux", "darwin"), "py": ("3.11", "3.12")},
        include=({"os": "linux", "extra": "yes"}, {"os": "windows", "py": "3.12"}),
        exclude=({"os": "darwin", "py": "3.11"},),
    )
    assert legs == [
        {"os": "linux", "py": "3.11", "extra": "yes"},
        {"os": "linux", "py": "3.12", "extra": "yes"},
        {"os": "darwin", "py": "3.12"},
        {"os": "windows", "py": "3.12"},
    ]
    assert expand_matrix({}, (), ()) == [{}]
    assert node_id("svc", {"platform": "linux/amd64"}) == "svc:linux-amd64"


def _spec(**repos: dict[str, object]) -> Spec:
    base = {
        "source": ".",
        "build": {"steps": [{"name": "b", "run": "echo ${{ matrix.platform }}"}]},
    }
    return Spec.model_validate(
        {
            "system": "s",
            "repos": {name: {**base, "outputs": ["x"], **r} for name, r in repos.items()},
        }
    )


def test_nodes_are_repo_times_leg_and_needs_match_legs(tmp_path: Path) -> None:
    platforms = {"platform": ["linux/amd64", "linux/arm64"]}
    spec = _spec(
        lib={},
        native={"matrix": platforms},
        svc={"needs": ["lib", "native"], "matrix": platforms},
    )
    plan = compile_build(spec, tmp_path / "f.yaml", platform_queues={"linux/arm64"})
    nodes = {node.id: node for node in plan.nodes}
    assert set(nodes) == {
        "lib",
        "native:linux-amd64",
        "native:linux-arm64",
        "svc:linux-amd64",
        "svc:linux-arm64",
    }
    assert nodes["svc:linux-arm64"].needs == ("lib", "native:linux-arm64")
    assert nodes["svc:linux-arm64"].runs_on == "linux/arm64"
    assert nodes["svc:linux-amd64"].runs_on == ""
    assert build_task_queue("ferryman", "linux/arm64") == "ferryman-build-linux-arm64"
    assert build_task_queue("ferryman") == "ferryman-build"
    step = nodes["svc:linux-arm64"].steps[0]
    assert step.run == "echo linux/arm64"
    assert step.env["FERRYMAN_MATRIX_PLATFORM"] == "linux/arm64"
    order = [node.id for node in plan.nodes]
    assert order.index("lib") < order.index("svc:linux-amd64")


def test_service_runs_the_leg_of_its_platform() -> None:
    spec = _spec(svc={"matrix": {"platform": ["linux/amd64", "linux/arm64"]}}, ui={})
    assert artifact_node(spec, "svc", "linux/amd64") == "svc:linux-amd64"
    assert artifact_node(spec, "svc", "linux/arm64") == "svc:linux-arm64"
    assert artifact_node(spec, "ui", "linux/arm64") == "ui"
    with pytest.raises(PlanError, match="no matrix leg for this platform 'darwin/arm64'"):
        artifact_node(spec, "svc", "darwin/arm64")


GRAPH_ERRORS = """\
system: s
repos:
  a:
    source: .
    needs: [b]
    build: {steps: [{name: x, run: "true"}]}
    outputs: [x]
  b:
    source: .
    needs: [c, a2, b]
    build: {steps: [{name: x, run: "true"}]}
    outputs: [x]
  c:
    source: .
    needs: [a]
    build: {steps: [{name: x, run: "true"}]}
    outputs: [x]
"""


def test_unknown_needs_self_edges_and_cycles_are_located() -> None:
    with pytest.raises(SpecError) as caught:
        load_spec_text(GRAPH_ERRORS, "f.yaml")
    assert [str(issue) for issue in caught.value.issues] == [
        "f.yaml:10:16: repos.b.needs[1]: unknown repo 'a2' (did you mean 'a'?)",
        "f.yaml:10:20: repos.b.needs[2]: repo 'b' cannot need itself",
        "f.yaml:15:13: repos.c.needs[0]: dependency cycle: a → b → c → a",
    ]


def test_bad_matrix_axis_is_an_error() -> None:
    text = GRAPH_ERRORS.replace("    needs: [b]\n", "    matrix: {platform: linux}\n")
    with pytest.raises(SpecError, match="matrix axis 'platform' must be a non-empty list"):
        load_spec_text(text, "f.yaml")
