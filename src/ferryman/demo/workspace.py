"""The demo's copy of ``examples/shop``: real git repositories, the demo's spec, its commits.

``prepare_example`` copies an example and makes each local repo source a git
repository of its own, as in a company where every team has its repo (the
tests use it too). ``Workspace`` then writes ``demo.yaml`` beside the shop's
``ferryman.yaml``: the same repos, services and environments, with checkout
released as a canary judged on the routers' error counts, and production's
bake as the run asks. Each change of the story is a commit in one repo, so
the build knows exactly what changed.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from ferryman.spec.load import load_spec
from ferryman.spec.progressive import parse_duration

IDENTITY = ("-c", "user.name=ferryman demo", "-c", "user.email=demo@ferryman.invalid")


def git(repo: Path, *args: str) -> None:
    """Run ``git`` in ``repo`` as the demo's author; fails loudly."""
    subprocess.run(["git", *IDENTITY, *args], cwd=repo, check=True, capture_output=True)


def prepare_example(example: Path, workdir: Path, message: str = "initial commit") -> Path:
    """Copy an example to ``workdir`` and make each local repo source a fresh git repository.

    Every ``repos.<name>.source`` of the example's ``ferryman.yaml`` that is a
    relative path becomes its own repository with one commit.

    Args:
        example: The example directory (holding ``ferryman.yaml``).
        workdir: Where to copy it; replaced if it exists.
        message: The commit message of each repository's first commit.

    Returns:
        The copied spec file.
    """
    shutil.rmtree(workdir, ignore_errors=True)
    shutil.copytree(example, workdir, ignore=shutil.ignore_patterns("__pycache__", ".git"))
    spec_file = workdir / "ferryman.yaml"
    for repo in load_spec(spec_file).repos.values():
        source = workdir / repo.source
        if "://" in repo.source or repo.source.startswith("git@") or not source.is_dir():
            continue
        git(source, "init", "-q", "-b", "main")
        git(source, "add", "-A")
        git(source, "commit", "-q", "-m", message)
    return spec_file


def canary_strategy(weight: int, interval_s: float, warm: str = "5s") -> dict[str, Any]:
    """Checkout's strategy in the demo: ``weight`` % of users, judged, then everyone."""
    return {
        "canary": {
            "scale-down-delay": warm,
            "progress-deadline": "1m",
            "steps": [
                {"set-weight": weight},
                {"analysis": {"templates": ["error-rate"], "interval": interval_s}},
            ],
        }
    }


def error_rate(margin: float) -> dict[str, Any]:
    """The canary's judge: a sequential test of canary against baseline errors.

    It fails the canary as soon as the evidence that it errs more reaches
    1/alpha, and passes it once the upper bound of the difference falls below
    ``margin`` (0.1: ten percentage points).
    """
    return {
        "metrics": [
            {
                "name": "errors",
                "source": "local",
                "query": {"kind": "error_rate"},
                "judge": {"sequential": {"alpha": 0.01, "margin": margin}},
            }
        ],
        "interval-seconds": 2,
        "count": 90,
        "no-data": "fail",
    }


@dataclass(frozen=True)
class Workspace:
    """The shop as the demo releases it.

    Attributes:
        root: The copy of ``examples/shop``.
    """

    root: Path

    @classmethod
    def create(cls, example: Path, root: Path) -> Workspace:
        """Copy ``example`` (the shop) to ``root``, each repo a git repository."""
        prepare_example(example, root, "shop v1")
        return cls(root)

    @property
    def original(self) -> Path:
        """The shop's own ``ferryman.yaml``."""
        return self.root / "ferryman.yaml"

    @property
    def spec(self) -> Path:
        """The demo's spec, ``demo.yaml``."""
        return self.root / "demo.yaml"

    def repo(self, name: str) -> Path:
        """A repo's git repository."""
        return self.root / "repos" / name

    def write_spec(self, bake: str, weight: int, interval_s: float, margin: float = 0.1) -> Path:
        """Write ``demo.yaml``: checkout as a canary, production's bake ``bake``.

        Old versions stay warm for as long as a bake once a release commits.
        """
        yaml = YAML()
        data = yaml.load(self.original.read_text())
        data["services"]["checkout"]["strategy"] = canary_strategy(weight, interval_s, bake)
        blue_green = data["services"]["catalog"]["strategy"]["blue-green"]
        blue_green["scale-down-delay-seconds"] = parse_duration(bake)
        data["analysis"] = {"templates": {"error-rate": error_rate(margin)}}
        data["environments"]["prod"]["rollout"]["bake"] = bake
        buffer = io.StringIO()
        yaml.dump(data, buffer)
        self.spec.write_text(buffer.getvalue())
        load_spec(self.spec)  # a mistake here is the demo's: say so before anything starts
        return self.spec

    def behave(self, service: str, message: str, **changes: Any) -> None:
        """Change a service's ``config/behaviour.json`` and commit it."""
        config = self.repo(service) / "config" / "behaviour.json"
        config.write_text(json.dumps({**json.loads(config.read_text()), **changes}) + "\n")
        git(self.repo(service), "commit", "-q", "-am", message)

    def add_route(self, service: str, message: str, old: str, new: str) -> None:
        """Replace ``old`` with ``new`` in a service's ``app.py`` and commit it."""
        app = self.repo(service) / "app.py"
        text = app.read_text()
        if old not in text:
            raise ValueError(f"{app} has no {old!r} to change")
        app.write_text(text.replace(old, new, 1))
        git(self.repo(service), "commit", "-q", "-am", message)
