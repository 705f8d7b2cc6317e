"""Hypothesis strategies for bad input: arbitrary YAML, and the examples' specs gone wrong.

- ``yaml_texts``: any text, text made of YAML's own tokens, and random data dumped as YAML;
- ``edited_examples``: ``examples/hello`` or ``examples/shop`` with lines deleted,
  repeated, swapped, re-indented or with a YAML token typed into them;
- ``mutated_examples``: the examples' data with values replaced, removed, repeated or
  added at random paths, dumped as YAML;
- ``near_valid_specs``: valid specs built from the features (matrix, needs, strategies,
  waves, gates, teams' steps, analysis), then up to two edge values put in.

``FUZZ`` keeps the default run fast and the same on every run (derandomized, 200
examples); ``FERRYMAN_FUZZ_EXAMPLES=5000`` runs more, with fresh randomness.
"""

from __future__ import annotations

import copy
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from ferryman.identity.models import Directory
from ferryman.identity.tokens import hash_token

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = (ROOT / "examples/hello/ferryman.yaml", ROOT / "examples/shop/ferryman.yaml")

_DEEP = os.environ.get("FERRYMAN_FUZZ_EXAMPLES")
FUZZ = settings(
    max_examples=int(_DEEP or 200),
    deadline=None,
    derandomize=not _DEEP,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
"""Settings of every fuzz test."""

DIRECTORY = Directory.model_validate(
    {
        "users": {name: {"token": hash_token("x")} for name in ("alice", "bob")},
        "groups": {"release-managers": ["alice", "bob"]},
    }
)
"""A ferryman config the examples' gates resolve against (its checks run when it is given)."""


def dump(data: Any) -> str:
    """``data`` as block-style YAML."""
    yaml = YAML(typ="safe")
    yaml.default_flow_style = False
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


# --- arbitrary YAML ----------------------------------------------------------------------------

TOKENS = (
    "\n", " ", "  ", "\t", "- ", ": ", ":", "{", "}", "[", "]", ", ", "&a ", "*a", "<<: *a",
    "? ", "|", ">", "'", '"', "#", "---", "...", "%YAML 1.2", "!x ", "!!int ", "!!float ",
    "!!bool ", "!!str ", "!!set ", "!!omap ", "!!binary ", "!!timestamp ", "!!python/none ",
    "system", "repos", "services", "environments", "hello", "1", "-1.5", ".inf", ".nan",
    "null", "~", "yes", "0x1f", "2001-12-14", "\x00", "\ufeff", "\u2028", "é",
)  # fmt: skip
NAMES = (
    "system",
    "repos",
    "services",
    "environments",
    "steps",
    "regions",
    "zones",
    "waves",
    "rollout",
    "gates",
    "strategy",
    "matrix",
    "needs",
    "at",
    "approvers",
    "analysis",
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(["", "hello", "lib", "eu-west", "10s", "1h", "after-wave 9", "x" * 300]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=8), st.sampled_from(NAMES)), inner, max_size=4),
    ),
    max_leaves=8,
)


def yaml_texts() -> st.SearchStrategy[str]:
    """Any text, YAML tokens in any order, and random data as YAML."""
    return st.one_of(
        st.text(),
        st.lists(st.sampled_from(TOKENS), max_size=40).map("".join),
        VALUES.map(dump),
    )


# --- the examples, edited as text ---------------------------------------------------------------


@st.composite
def edited_examples(draw: st.DrawFn) -> str:
    """An example spec with one to three lines edited."""
    lines = draw(st.sampled_from(EXAMPLES)).read_text(encoding="utf-8").splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        edit = draw(st.sampled_from(["delete", "repeat", "type", "indent", "dedent", "swap"]))
        if edit == "delete" and len(lines) > 1:
            del lines[i]
        elif edit == "repeat":
            lines.insert(i, lines[i])
        elif edit == "type":
            at = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:at] + draw(st.sampled_from(TOKENS)) + lines[i][at:]
        elif edit == "indent":
            lines[i] = "  " + lines[i]
        elif edit == "dedent":
            lines[i] = lines[i].removeprefix("  ")
        elif edit == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
    return "".join(lines)


# --- the examples, mutated as data --------------------------------------------------------------

EDGES = (
    None, 0, -1, 1, 2, 64, 65, 100, 10**9, 0.5, float("inf"), float("nan"), 1e308, "", "x",
    "eu-west", "us", "lib", "web", "catalog", "alice", "release-managers", "after-wave 9",
    "after-wave 0", "before-wave 1", "promotion", "10s", "-5s", "99999999999999h", [], [""],
    ["eu-west"], ["lib"], ["a", "a"], {}, {"x": 1}, True,
)  # fmt: skip
"""Values likely to sit on a boundary somewhere in a spec."""


def paths(data: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path into ``data`` (keys and indexes), the root's ``()`` first."""
    yield prefix
    if isinstance(data, dict):
        for key, value in data.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from paths(value, (*prefix, index))


NUMBERS = (0, -1, 0.5, 1, 65, 101, 10**9, 1e308, float("inf"), float("nan"), "99999999999999h")
"""Edge values for a number or a duration."""


def at(data: Any, path: tuple[Any, ...]) -> Any:
    """The value at ``path`` in ``data``."""
    for part in path:
        data = data[part]
    return data


def is_number(value: Any) -> bool:
    """A number, or a duration written like ``10s`` (but not a boolean)."""
    if isinstance(value, str):
        return value[:1].isdigit() and value[-1:] in "smhd"
    return isinstance(value, int | float) and not isinstance(value, bool)


def mutate(draw: st.DrawFn, data: Any, values: st.SearchStrategy[Any], times: int) -> Any:
    """``data`` with ``times`` random values set, removed, repeated or added at random paths.

    Half the changes put an edge number where a number (or a duration) was.
    """
    for _ in range(times):
        numbers = [p for p in paths(data) if p and is_number(at(data, p))]
        if numbers and draw(st.booleans()):
            path = draw(st.sampled_from(numbers))
            at(data, path[:-1])[path[-1]] = draw(st.sampled_from(NUMBERS))
            continue
        path = draw(st.sampled_from([p for p in paths(data) if p]))
        parent = at(data, path[:-1])
        key, edit = path[-1], draw(st.sampled_from(["set", "set", "delete", "repeat", "add"]))
        if edit == "set":
            parent[key] = copy.deepcopy(draw(values))
        elif edit == "delete":
            del parent[key]
        elif edit == "repeat" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
        elif edit == "add" and isinstance(parent[key], dict):
            parent[key][draw(st.one_of(st.sampled_from(NAMES), st.text(max_size=6)))] = draw(values)
    return data


@st.composite
def mutated_examples(draw: st.DrawFn) -> str:
    """An example spec's data with one to four random changes, as YAML."""
    data = YAML(typ="safe").load(draw(st.sampled_from(EXAMPLES)).read_text(encoding="utf-8"))
    values = st.one_of(st.sampled_from(EDGES), VALUES)
    return dump(mutate(draw, data, values, draw(st.integers(1, 4))))


# --- valid specs, then edge values --------------------------------------------------------------


@st.composite
def valid_specs(draw: st.DrawFn) -> dict[str, Any]:
    """A valid spec: repos (needs, matrix), services (strategies), environments, analysis."""
    one, some = draw, lambda *xs, **kw: draw(st.lists(st.sampled_from(xs), unique=True, **kw))
    repo_names = some("lib", "api", "web", min_size=1)
    repos: dict[str, Any] = {}
    for index, name in enumerate(repo_names):
        step = {"run": "make", "timeout-minutes": 5}
        repo: dict[str, Any] = {"source": f"./{name}", "build": {"steps": [step]}}
        if one(st.booleans()):
            repo["outputs"] = ["dist/**"]
        if index and one(st.booleans()):
            repo["needs"] = some(*repo_names[:index], min_size=1)
        if one(st.booleans()):
            repo["matrix"] = {"platform": some("linux/amd64", "linux/arm64", min_size=1)}
            if one(st.booleans()):
                repo["matrix"]["include"] = [{"platform": "linux/amd64", "extra": "yes"}]
            repo["build"]["steps"][0]["run"] = "make ${{ matrix.platform }}"
        repos[name] = repo
    spec: dict[str, Any] = {"system": "shop", "repos": repos, "environments": {}}
    analysis = one(st.booleans())
    if analysis:
        judge = one(
            st.sampled_from(
                [
                    {"threshold": {"success-condition": "result < 0.01"}},
                    {"mann-whitney": {}},
                    {"sequential": {"margin": 0.1}},
                ]
            )
        )
        metric = {"name": "rate", "query": {"kind": "error_rate"}, "judge": judge}
        spec["analysis"] = {"templates": {"errors": {"metrics": [metric]}}}
    built = [name for name, repo in repos.items() if "outputs" in repo]
    services = some("web", "api") if built else []
    spec["services"] = {name: service(draw, built, analysis) for name in services}
    for env in some("dev", "prod", min_size=1):
        spec["environments"][env] = environment(draw)
    return spec


def service(draw: st.DrawFn, built: list[str], analysis: bool) -> dict[str, Any]:
    """A service of one of the ``built`` repos, with any strategy."""
    canary: list[dict[str, Any]] = [{"set-weight": 10}]
    if analysis:
        canary.append({"analysis": {"templates": ["errors"]}})
    canary += draw(
        st.sampled_from(
            [
                [],
                [{"pause": {"duration": "5s"}}],
                [{"pause": {}}],
                [{"set-header-route": {"header": "x"}}],
            ]
        )
    )
    strategy = draw(
        st.sampled_from(
            [
                None,
                {"replace": {}},
                {
                    "blue-green": {
                        "traffic-steps": [10, 50, 100],
                        "pause-seconds": 1,
                        "scale-down-delay-seconds": 5,
                        "progress-deadline-seconds": 60,
                    }
                },
                {"canary": {"steps": [*canary, {"set-weight": 50}], "progress-deadline": "2m"}},
                {"experiment": {"percent": 10, "metric": {"exposures": "e", "conversions": "c"}}},
            ]
        )
    )
    health = {"path": "/h", "timeout-seconds": 20, "interval-seconds": 0.5}
    found = {"artifact": draw(st.sampled_from(built)), "run": "serve", "health": health}
    return found if strategy is None else {**found, "strategy": strategy}


def environment(draw: st.DrawFn) -> dict[str, Any]:
    """Regions in waves, maybe a gate and a team's step at points that exist."""
    regions = draw(st.lists(st.sampled_from(["eu-1", "eu-2", "us-1"]), min_size=1, unique=True))
    zones = st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, unique=True)
    env: dict[str, Any] = {
        "regions": {r: {"zones": draw(zones), "tags": [r[:2]]} for r in regions},
    }
    order = draw(st.permutations(regions))
    cut = draw(st.integers(1, len(order)))
    waves = [w for w in (order[:cut], order[cut:]) if w]
    env["rollout"] = {
        "waves": [{"regions": list(wave), "bake": "10s"} for wave in waves],
        "bake": draw(st.sampled_from([0, "5s", "1m"])),
        "on-failure": draw(st.sampled_from(["rollback", "pause"])),
        "keep-previous": draw(st.sampled_from(["until-done", "bake", "none"])),
    }
    points = ["before-environment", *(f"after-wave {n}" for n in range(1, len(waves) + 1))]
    if draw(st.booleans()):
        gate = {"approvers": ["release-managers"], "timeout": "1h"}  # a number of seconds
        env["gates"] = {"go-live": {"at": draw(st.sampled_from([*points, "promotion"])), **gate}}
    if draw(st.booleans()):
        call = draw(
            st.sampled_from(
                [
                    {"activity": {"name": "check", "task-queue": "team", "timeout": "1m"}},
                    {"webhook": {"url": "https://example.com/hook"}},
                ]
            )
        )
        env["steps"] = [{"name": "check", "at": draw(st.sampled_from(points)), **call}]
    return env


@st.composite
def near_valid_specs(draw: st.DrawFn) -> str:
    """A valid spec with up to two edge values put in, as YAML."""
    data = draw(valid_specs())
    return dump(mutate(draw, data, st.sampled_from(EDGES), draw(st.integers(0, 2))))
