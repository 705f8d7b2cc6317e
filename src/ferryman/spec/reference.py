"""The ``ferryman.yaml`` reference, generated from the spec's pydantic models.

Every key, type, default and constraint comes from ``ferryman.spec.models`` (and
the models they nest), so ``docs/spec.md`` cannot drift from what ``validate``
accepts: a test compares the committed page with this module's output.
Meanings come from each field's ``description``, else from ``MEANINGS`` below;
the prose around the tables from ``INTRO`` and ``NOTES``.

Regenerate the page with::

    ferryman schema --markdown > docs/spec.md
    python -m ferryman.spec.reference > docs/spec.md
"""

from __future__ import annotations

import sys
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

from annotated_types import Ge, Gt, Le, Lt, MaxLen, MinLen
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from ferryman.spec.duration import parse_duration
from ferryman.spec.models import Spec

GENERATED_BY = "ferryman schema --markdown > docs/spec.md"

INTRO = """\
A spec names one **system** and describes its **repos** (how to build them), its
**services** (how to run what was built) and its **environments** (where to run
them). Unknown keys are errors. Names of the system, repos, services,
environments, regions and zones are lower-case letters, digits and `-` (at most
63). Keys are spelled as below (`timeout-minutes`); the Python spelling
(`timeout_minutes`) is accepted too. Numbers are finite (no `.inf` or `.nan`)
and no time is longer than a year (`365d`, 31536000 seconds): each one becomes
a Temporal timer or timeout.

`ferryman validate FILE` checks a spec and reports every problem at once as
`file:line:column: yaml.path: message`, exit code 2. Every command that takes a
spec file also takes the directory that holds its `ferryman.yaml`.

```yaml
system: hello
repos:
  hello:
    source: ./app
    build:
      steps:
        - run: python3 -m unittest -q     # named "run python3 -m unittest -q"
        - name: package
          run: mkdir -p dist && cp server.py dist/
    outputs: ["dist/**"]
services:
  web:
    artifact: hello
    run: python3 dist/server.py           # $PORT is set
environments:
  dev:
    regions:
      local-1: {zones: [a]}
```
"""

NOTES: dict[str, str] = {
    "repos.<name>": """\
A local path that is a git work tree is built from git: with no `ref`, uncommitted
changes are included and the commit is recorded as `<sha>-dirty`; with a `ref`,
exactly that ref is built. A path inside a larger repository (an example in a
project, a service in a monorepo) is exported alone and takes the newest commit
that changed it as its commit. A path that is not in git is copied and
identified by a hash of its files.

A repo without `outputs` builds no artifact: its steps run (and are cached like
any other), which suits a repo that only tests. A service cannot run it.

Unknown `needs` names, a repo needing itself and dependency cycles are errors,
reported with their location (a cycle with its full path, `a → b → c → a`).

A repo with a matrix becomes one build node per leg, with id
`<repo>:<values joined by ->` (`catalog:linux-amd64`). In `run` and `env`,
`${{ matrix.<axis> }}` is replaced by the leg's value, and every step sees
`FERRYMAN_MATRIX_<AXIS>`. A leg of a repo that needs a matrix repo depends on
the legs that agree with it on their shared axes (else on all of them). A node
receives its dependencies' artifacts: `FERRYMAN_DEP_<NAME>_DIR`,
`FERRYMAN_DEP_<NAME>_DIGEST` and the JSON manifest `FERRYMAN_DEPS_MANIFEST`.

```yaml
system: shop
repos:
  lib: {source: ./lib, build: {steps: [{run: make}]}, outputs: [dist/**]}
  catalog:
    source: ./catalog
    needs: [lib]
    matrix:
      platform: [linux/amd64, linux/arm64]
      include: [{platform: linux/amd64, extra: "yes"}]
      exclude: []
    build:
      steps:
        - name: package
          run: ./pack.sh "$FERRYMAN_DEP_LIB_DIR" "${{ matrix.platform }}"
    outputs: [dist/**]
  tests:                              # no outputs: it only tests
    source: ./tests
    build: {steps: [{run: python3 -m unittest -q}]}
```
""",
    "repos.<name>.build.steps[]": """\
Steps see `FERRYMAN_RUN_ID` and `FERRYMAN_NODE`. A non-zero exit fails the build
with a one-line message naming the repo, the step, the exit code and the last
line of output; `ferryman logs` prints the whole log.
""",
    "build": """\
Level 2 ([the DAG build](levels/2-dag.md)) describes scheduling, the cache and
provenance.
""",
    "services.<name>": """\
Instances also see `FERRYMAN_SERVICE`, `FERRYMAN_VERSION`, `FERRYMAN_REGION`,
`FERRYMAN_ZONE` and `FERRYMAN_INSTANCE`. A region's router sends a request to
the service named by the first label of its `Host` header, or to the region's
only service: with several services (or several systems' services) in one
region, send `Host: <service>`.
""",
    "services.<name>.strategy": """\
Without a strategy a service is replaced at once: the new version starts in
every zone, the router switches in one swap, the old version is retired.
[Levels 3 and 5](levels/3-5-bluegreen-zones.md) describe blue-green.

```yaml
system: shop
repos:
  checkout: {source: ./checkout, build: {steps: [{run: make}]}, outputs: [dist/**]}
services:
  checkout:
    artifact: checkout
    run: python3 dist/checkout.pyz
    strategy:
      blue-green:
        auto-promote: false
        preview: {header: X-Tester, value: "yes"}
        smoke: [{path: /healthz, status: 200}]
        traffic-steps: [10, 50, 100]
        pause-seconds: 30
        scale-down-delay-seconds: 60
environments:
  staging:
    regions:
      eu-west: {zones: [a, b, c]}
```
""",
    "environments.<name>.steps[]": """\
A team's step runs an activity by name on the team's own task queue (a worker
in any language serves it) or makes an HTTP call. Its JSON payload, input and
result are described in [plugging in your team's step](team-steps.md).
A failed step follows `rollout.on-failure`; during a rollback, the steps that
had succeeded run their `compensate`, in reverse order with the region
restores. Durations are written as elsewhere (`90s`, `10m`, `1h30m`).
""",
}

MEANINGS: dict[str, str] = {
    "Spec.system": "what this spec releases; part of every release id",
    "Spec.repos": "sources and how to build them",
    "Spec.build": "how the DAG of repos is built",
    "Spec.services": "long-running services started from build outputs",
    "Spec.environments": "deployment targets",
    "Repo.build": "how to build it",
    "Repo.matrix": "one build node per leg (GitHub Actions semantics)",
    "Repo.max_parallel": "legs of this repo building at once",
    "Build.steps": "run in order in a fresh checkout",
    "Build.env": "environment for every step",
    "Step.run": "the script",
    "Step.env": "added to the step's environment",
    "Step.working_directory": "relative to the checkout; may not leave it",
    "Step.timeout_minutes": "the step's process group is killed after it",
    "Step.shell": (
        "`bash` (run with `-eo pipefail`), `sh`, `python` or a template with `{0}`;"
        " under `bash` or `sh`, one plain command (`make build`) starts without the shell,"
        " as make does"
    ),
    "Matrix.<axis>": "an axis and its values, e.g. `platform: [linux/amd64, linux/arm64]`",
    "Matrix.include": "extra legs, or extra values for the legs they match",
    "Matrix.exclude": "legs to leave out",
    "BuildSettings.max_parallel": "build nodes running at once; set it to the worker's "
    "build slots so the critical path goes first",
    "BuildSettings.fail_fast": "a failing node cancels the running ones; `false` lets "
    "independent branches finish",
    "Service.artifact": "the repo whose outputs the service runs; for a repo with a "
    "`platform` matrix, the leg of the local platform (e.g. `linux/amd64`)",
    "Service.run": "starts one instance, run by `bash -c` in the unpacked artifact; `$PORT` is set",
    "Service.env": "added to the instance's environment",
    "Service.health": "how to tell an instance is ready",
    "Service.replicas": "instances per zone",
    "Service.strategy": "how a new version replaces the old one",
    "HealthCheck.path": "polled over HTTP",
    "HealthCheck.status": "expected status",
    "HealthCheck.timeout_seconds": "a version not healthy by then fails the deploy",
    "HealthCheck.interval_seconds": "polling interval",
    "Strategy.replace": "level 1: start everywhere, switch at once, retire the old version",
    "Strategy.blue_green": "level 3: the new colour beside the old, previewed, smoke-tested, "
    "switched in steps",
    "BlueGreen.auto_promote": "`false`: hold after the barrier (and preview and smoke) "
    "until `ferryman promote`",
    "BlueGreen.preview": "testers matching it reach the new colour; users stay on the old",
    "BlueGreen.smoke": "HTTP checks sent through the router to the new colour before promotion",
    "BlueGreen.post_smoke": "the same checks after promotion",
    "BlueGreen.traffic_steps": "percent of traffic on the new colour at each step, rising to 100",
    "BlueGreen.pause_seconds": "durable pause between traffic steps (`promote` skips the rest)",
    "BlueGreen.scale_down_delay_seconds": "how long the old colour stays warm after the switch",
    "BlueGreen.progress_deadline_seconds": "how long the barrier waits for every zone",
    "PreviewMatch.header": "a request header that marks testers (or `cookie`)",
    "PreviewMatch.cookie": "a cookie that marks testers (or `header`)",
    "PreviewMatch.value": "the value the header or cookie must have",
    "SmokeCheck.path": "requested with `GET`",
    "SmokeCheck.status": "the status it must answer",
    "SmokeCheck.contains": "text the body must contain",
    "Environment.platform": "the provider that runs instances and routes traffic (`local`)",
    "Environment.regions": "regions and their availability zones",
    "Region.zones": "availability zones, each running every service",
}


DERIVED: dict[str, str] = {
    "Step.name": "`run` + the command's first line",
}
"""Defaults computed from other keys, which the models fill in before validating."""


@dataclass
class Section:
    """One table of the reference: a model at a YAML path."""

    path: str
    model: type[BaseModel]
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)


def _key(name: str, info: FieldInfo) -> str:
    return info.alias or name


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """The annotation without ``| None``, and whether None was allowed."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) < len(typing.get_args(annotation)):
            rest = args[0]
            for arg in args[1:]:
                rest = rest | arg
            return rest, True
    return annotation, False


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _type(annotation: Any, child: str) -> str:
    """A person's words for a type; nested models name their section."""
    annotation, _ = _unwrap(annotation)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        duration = any(getattr(m, "func", None) is parse_duration for m in args[1:])
        return "duration" if duration else _type(args[0], child)
    if getattr(annotation, "__name__", "") == "JsonValue":
        return "any JSON"
    if _is_model(annotation):
        return f"mapping (`{child}`)"
    if origin is tuple:
        return f"list of {_plural(args[0], child + '[]')}"
    if origin is dict:
        return f"map name → {_type(args[1], child + '.<name>')}"
    if origin is Literal:
        return " or ".join(f"`{value}`" for value in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type(arg, child) for arg in args)
    return {str: "string", int: "integer", float: "number", bool: "bool"}.get(
        annotation, getattr(annotation, "__name__", str(annotation))
    )


def _plural(annotation: Any, child: str) -> str:
    if _is_model(annotation):
        return f"mappings (`{child}`)"
    if typing.get_origin(annotation) is dict:
        return "mappings"
    words = {str: "strings", int: "integers", float: "numbers", bool: "bools"}
    return words.get(annotation, _type(annotation, child))


def _constraints(info: FieldInfo, annotation: Any) -> str:
    parts: list[str] = []
    for item in info.metadata:
        if isinstance(item, MinLen) and item.min_length == 1:
            parts.append("non-empty" if annotation is str else "at least one")
        elif isinstance(item, MinLen):
            parts.append(f"at least {item.min_length}")
        elif isinstance(item, MaxLen):
            parts.append(f"at most {item.max_length}")
        elif isinstance(item, Ge):
            parts.append(f"≥ {item.ge}")
        elif isinstance(item, Gt):
            parts.append(f"> {item.gt}")
        elif isinstance(item, Le):
            parts.append(f"≤ {item.le}")
        elif isinstance(item, Lt):
            parts.append(f"< {item.lt}")
    return ", ".join(parts)


def _value(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        return f"`{int(value)}`"
    if isinstance(value, tuple | list):
        return "`[" + ", ".join(str(v) for v in value) + "]`" if value else "`[]`"
    if isinstance(value, dict):
        return "`{}`" if not value else f"`{value}`"
    if isinstance(value, BaseModel):
        return "see below"
    return f"`{value}`"


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "required"
    if info.default_factory is not None:
        return _value(info.default_factory())  # type: ignore[call-arg]
    if info.default is PydanticUndefined:
        return ""
    return _value(info.default)


def _meaning(model: type[BaseModel], name: str, info: FieldInfo) -> str:
    text = (info.description or MEANINGS.get(f"{model.__name__}.{name}", "")).rstrip(".")
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        text = text[0].lower() + text[1:]
    return text or "—"


def _doc(model: type[BaseModel]) -> str:
    """The first paragraph of a model's docstring, on one line, in Markdown quoting."""
    first = (model.__doc__ or "").strip().split("\n\n")[0]
    return " ".join(first.split()).replace("``", "`")


def collect(
    model: type[BaseModel] = Spec, path: str = "", seen: dict[type[BaseModel], str] | None = None
) -> list[Section]:
    """Every section of the reference, parents before children, each model once.

    A model nested at several paths (the checks of ``smoke`` and ``post-smoke``)
    is described at the first; the others name that section.
    """
    seen = {model: path} if seen is None else seen
    section = Section(path or "top level", model)
    sections = [section]
    extra = model.model_config.get("extra") == "allow"
    if extra:
        section.rows.append(
            (
                "`<axis>`",
                "list of values",
                "",
                MEANINGS.get(f"{model.__name__}.<axis>", "—"),
            )
        )
    for name, info in model.model_fields.items():
        key = _key(name, info)
        child = f"{path}.{key}" if path else key
        annotation, _ = _unwrap(info.annotation)
        constraint = _constraints(info, annotation)
        kind = _type(info.annotation, child)
        later: list[tuple[type[BaseModel], str]] = []
        for nested, nested_path in _nested(annotation, child):
            if nested in seen:
                kind = kind.replace(f"`{nested_path}`", f"`{seen[nested]}`")
            else:
                seen[nested] = nested_path
                later.append((nested, nested_path))
        kind += f", {constraint}" if constraint else ""
        default = DERIVED.get(f"{model.__name__}.{name}") or _default(info)
        section.rows.append((f"`{key}`", kind, default, _meaning(model, name, info)))
        for nested, nested_path in later:
            sections += collect(nested, nested_path, seen)
    return sections


def _nested(annotation: Any, path: str) -> list[tuple[type[BaseModel], str]]:
    annotation, _ = _unwrap(annotation)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if _is_model(annotation):
        return [(annotation, path)]
    if origin is tuple and args:
        return _nested(args[0], path + "[]")
    if origin is dict and len(args) == 2:
        return _nested(args[1], path + ".<name>")
    if origin in (typing.Union, types.UnionType):
        return [pair for arg in args for pair in _nested(arg, path)]
    return []


def _heading(section: Section) -> str:
    title = "Top level" if section.path == "top level" else f"`{section.path}`"
    depth = "##" if section.path.count(".") <= 1 or section.path == "top level" else "###"
    return f"{depth} {title}"


def markdown() -> str:
    """The whole reference page."""
    out = [
        "# `ferryman.yaml` reference",
        "",
        f"<!-- Generated from src/ferryman/spec/models.py by `{GENERATED_BY}`."
        " Do not edit by hand: a test checks it. -->",
        "",
        INTRO,
    ]
    for section in collect():
        doc = _doc(section.model)
        out += [_heading(section), ""]
        if doc and section.path != "top level":
            out += [doc, ""]
        if section.rows:
            out += ["| key | type | default | meaning |", "|---|---|---|---|"]
            out += [f"| {k} | {t} | {d} | {m} |" for k, t, d, m in section.rows]
        else:
            out.append(f"No keys: write `{section.path.rsplit('.', 1)[-1]}: {{}}`.")
        out.append("")
        if section.path in NOTES:
            out += [NOTES[section.path]]
    out += [
        "## Versions",
        "",
        "`ferryman release --version V` deploys under the label `V`. Without it, each",
        "service's version is the first 12 hex digits of the commit its artifact was",
        "built from (`-dirty` kept). Releasing a version that already serves all",
        "traffic in every zone changes nothing and reports `unchanged`.",
        "",
    ]
    return "\n".join(out)


if __name__ == "__main__":
    sys.stdout.write(markdown())
