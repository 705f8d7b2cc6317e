"""Compiling a spec into a release plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferryman.cli.plan_view import plan_json, plan_tree
from ferryman.errors import PlanError
from ferryman.plan.compile import compile_plan, resolve_source
from ferryman.spec.models import Spec

SPEC = {
    "system": "hello",
    "repos": {
        "hello": {
            "source": "./app",
            "ref": "main",
            "build": {
                "env": {"A": "1"},
                "steps": [
                    {"name": "build", "run": "make", "timeout-minutes": 2, "env": {"B": "2"}},
                ],
            },
            "outputs": ["dist/**"],
        }
    },
    "services": {"web": {"artifact": "hello", "run": "./serve", "replicas": 3}},
    "environments": {"dev": {"regions": {"eu-1": {"zones": ["a", "b"]}}}},
}


def test_compile_resolves_sources_and_units(tmp_path: Path) -> None:
    plan = compile_plan(Spec.model_validate(SPEC), tmp_path / "ferryman.yaml", "dev")
    node = plan.build.nodes[0]
    assert node.source == str((tmp_path / "app").resolve())
    assert node.ref == "main"
    assert node.steps[0].timeout_s == 120.0
    assert node.steps[0].env == {"A": "1", "B": "2"}
    assert plan.deploy.regions[0].zones == ("a", "b")
    assert plan.deploy.services[0].replicas == 3
    assert plan.deploy.services[0].artifact_node == "hello"
    assert plan.version == ""


def test_compile_keeps_urls() -> None:
    assert resolve_source("https://example.com/x.git", Path("/tmp")) == "https://example.com/x.git"
    assert resolve_source("git@host:org/x.git", Path("/tmp")) == "git@host:org/x.git"
    assert resolve_source("../x", Path("/a/b")) == "/a/x"


def test_unknown_environment_is_a_plan_error(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="unknown environment 'prod' \\(known: dev\\)"):
        compile_plan(Spec.model_validate(SPEC), tmp_path / "f.yaml", "prod")


def test_invalid_version_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="invalid version"):
        compile_plan(Spec.model_validate(SPEC), tmp_path / "f.yaml", "dev", version="a b")


def test_render_tree_and_json(tmp_path: Path) -> None:
    plan = compile_plan(Spec.model_validate(SPEC), tmp_path / "f.yaml", "dev", version="v7")
    from rich.console import Console

    console = Console(record=True, width=200)
    console.print(plan_tree(plan))
    text = console.export_text()
    assert "release hello → dev  version v7" in text
    assert "wave 1 on local: eu-1 together" in text
    assert "region eu-1: zones a, b at once" in text
    assert (
        "web (replace) ×3 per zone from hello: start new ×3 in every zone → barrier (30s)"
        " → switch: new 100%; then retire current"
    ) in text
    assert "finalize eu-1: retire the old versions" in text
    assert '"version": "v7"' in plan_json(plan)


def test_a_zonal_region_says_so_in_the_tree(tmp_path: Path) -> None:
    spec = Spec.model_validate(SPEC)
    plan = compile_plan(spec, tmp_path / "f.yaml", "dev", version="v7")
    regions = tuple(r.model_copy(update={"data_plane": "zonal"}) for r in plan.deploy.regions)
    plan = plan.model_copy(update={"deploy": plan.deploy.model_copy(update={"regions": regions})})
    from rich.console import Console

    console = Console(record=True, width=200)
    console.print(plan_tree(plan))
    text = console.export_text()
    assert "region eu-1: zones a, b at once, a router per zone, switched together" in text
