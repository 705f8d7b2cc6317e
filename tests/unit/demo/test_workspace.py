"""The demo's shop: git repositories, ``demo.yaml`` (checkout as a canary), commits per change."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from ferryman.demo.workspace import Workspace
from ferryman.spec.load import load_spec

SHOP = Path(__file__).resolve().parents[3] / "examples" / "shop"


def commits(repo: Path) -> list[str]:
    log = subprocess.run(
        ["git", "log", "--format=%s"], cwd=repo, capture_output=True, text=True, check=True
    )
    return log.stdout.split("\n")[:-1]


@pytest.fixture
def shop(tmp_path: Path) -> Workspace:
    return Workspace.create(SHOP, tmp_path / "shop")


def test_demo_yaml_is_the_shop_with_checkout_as_a_judged_canary(shop: Workspace) -> None:
    spec = load_spec(shop.write_spec("3s", 20, 1.5, margin=0.2))
    original = load_spec(shop.original)
    assert spec.repos == original.repos and set(spec.environments) == set(original.environments)
    checkout = spec.services["checkout"].strategy
    assert checkout is not None and checkout.canary is not None
    weights = [s.set_weight for s in checkout.canary.steps if s.set_weight is not None]
    assert weights == [20]
    catalog = spec.services["catalog"].strategy
    assert catalog is not None and catalog.blue_green is not None, "catalog stays blue-green"
    assert catalog.blue_green.scale_down_delay_seconds == 3.0, "warm as long as a bake"
    assert checkout.canary.scale_down_delay == 3.0
    assert spec.environments["prod"].rollout.bake == 3.0
    judge = spec.analysis.templates["error-rate"].metrics[0].judge
    assert judge.sequential is not None and judge.sequential.margin == 0.2


def test_each_change_is_a_commit_in_its_own_repo(shop: Workspace) -> None:
    assert commits(shop.repo("checkout")) == ["shop v1"]
    shop.behave("checkout", "checkout: broken in eu-west", regions={"eu-west": {"error_rate": 0.3}})
    shop.add_route("catalog", "catalog: teapots", '"kettle"]', '"kettle", "teapot"]')
    behaviour = json.loads((shop.repo("checkout") / "config" / "behaviour.json").read_text())
    assert behaviour["regions"] == {"eu-west": {"error_rate": 0.3}}
    assert behaviour["error_rate"] == 0.0, "everywhere else it behaves"
    assert commits(shop.repo("checkout")) == ["checkout: broken in eu-west", "shop v1"]
    assert commits(shop.repo("catalog"))[0] == "catalog: teapots"
    assert commits(shop.repo("lib")) == ["shop v1"], "lib untouched: its build stays cached"
    with pytest.raises(ValueError, match="no 'nothing'"):
        shop.add_route("catalog", "x", "nothing", "something")
