"""Compile a ``Spec`` and a release request into a ``ReleasePlan`` (pure)."""

from __future__ import annotations

import platform as _platform
import re
import sys
from collections.abc import Collection, Mapping
from pathlib import Path

from ferryman.dag import topological_order
from ferryman.deploy.strategies import BlueGreenOptions, ReplaceOptions, StrategyOptions
from ferryman.errors import PlanError
from ferryman.identity.models import Directory
from ferryman.plan.custom_steps import compile_steps
from ferryman.plan.gates import compile_gates
from ferryman.plan.matrix import Leg, expand_matrix, node_id
from ferryman.plan.models import (
    BuildNode,
    BuildPlan,
    DeployPlan,
    HealthPlan,
    RegionPlan,
    ReleasePlan,
    ServicePlan,
    StepPlan,
    WavePlan,
)
from ferryman.plan.progressive import canary_options, experiment_options
from ferryman.plan.secrets import secret_sources
from ferryman.spec.analysis import AnalysisSpec, to_plans
from ferryman.spec.models import (
    BlueGreen,
    Environment,
    Repo,
    Service,
    Spec,
    Strategy,
    Wave,
)

_URL = re.compile(r"^([a-z][a-z0-9+.-]*://|git@)")
_MATRIX_REF = re.compile(r"\$\{\{\s*matrix\.([A-Za-z0-9_-]+)\s*\}\}")
_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def local_platform() -> str:
    """This machine as a matrix ``platform`` value, e.g. ``linux/amd64``."""
    machine = _platform.machine().lower()
    return f"{sys.platform.rstrip('0123456789')}/{_ARCH.get(machine, machine)}"


def resolve_source(source: str, spec_dir: Path) -> str:
    """Resolve a repo source: URLs stay as they are, paths become absolute.

    Args:
        source: The ``source`` value from the spec.
        spec_dir: Directory of the spec file; relative paths are relative to it.

    Returns:
        A URL or an absolute path.
    """
    if _URL.match(source):
        return source
    return str((spec_dir / source).resolve())


def _substitute(text: str, leg: Leg) -> str:
    return _MATRIX_REF.sub(lambda m: leg.get(m.group(1), ""), text)


def _matrix_env(leg: Leg) -> dict[str, str]:
    return {
        "FERRYMAN_MATRIX_" + re.sub(r"[^A-Za-z0-9]", "_", axis).upper(): value
        for axis, value in leg.items()
    }


def repo_legs(repo: Repo) -> list[Leg]:
    """The matrix legs of a repo (one empty leg without a matrix)."""
    if repo.matrix is None:
        return [{}]
    return expand_matrix(repo.matrix.axes(), repo.matrix.include, repo.matrix.exclude)


def _needed_legs(leg: Leg, candidates: list[tuple[str, Leg]]) -> list[str]:
    """The legs of a needed repo that agree with ``leg`` on their shared axes (else all)."""
    agreeing = [
        nid for nid, other in candidates if all(leg[k] == v for k, v in other.items() if k in leg)
    ]
    return agreeing or [nid for nid, _ in candidates]


def _build_node(
    name: str,
    repo: Repo,
    leg: Leg,
    spec_dir: Path,
    needs: tuple[str, ...],
    runs_on: str,
) -> BuildNode:
    extra = _matrix_env(leg)
    steps = tuple(
        StepPlan(
            name=step.name,
            run=_substitute(step.run, leg),
            env={
                **extra,
                **{k: _substitute(v, leg) for k, v in {**repo.build.env, **step.env}.items()},
            },
            secrets=secret_sources({**repo.build.secrets, **step.secrets}, spec_dir),
            working_directory=step.working_directory,
            timeout_s=step.timeout_minutes * 60.0,
            shell=step.shell,
        )
        for step in repo.build.steps
    )
    return BuildNode(
        id=node_id(name, leg),
        repo=name,
        matrix=dict(leg),
        source=resolve_source(repo.source, spec_dir),
        ref=repo.ref,
        steps=steps,
        outputs=repo.outputs,
        needs=needs,
        runs_on=runs_on,
    )


def compile_build(
    spec: Spec,
    spec_path: str | Path,
    platform_queues: Collection[str] = (),
    durations: Mapping[str, float] | None = None,
) -> BuildPlan:
    """Expand the spec's repos into build nodes (repo × matrix leg) with their edges.

    Args:
        spec: The loaded spec (already validated: no unknown needs, no cycles).
        spec_path: Where the spec was read from.
        platform_queues: Platforms served by their own build workers; their legs
            run there (``runs_on``), every other leg on any build worker.
        durations: Node id → last measured duration, used for priorities.

    Returns:
        The build plan, nodes in a topological order.
    """
    spec_dir = Path(spec_path).resolve().parent
    legs = {
        name: [(node_id(name, leg), leg) for leg in repo_legs(repo)]
        for name, repo in spec.repos.items()
    }
    by_id: dict[str, BuildNode] = {}
    for name, repo in spec.repos.items():
        for nid, leg in legs[name]:
            needs = tuple(
                dep for need in repo.needs for dep in _needed_legs(leg, legs.get(need, []))
            )
            value = leg.get("platform", "")
            runs_on = value if value in platform_queues else ""
            node = _build_node(name, repo, leg, spec_dir, needs, runs_on)
            if durations and nid in durations:
                node = node.model_copy(update={"expected_duration_s": durations[nid]})
            by_id[nid] = node
    order = topological_order({nid: node.needs for nid, node in by_id.items()})
    return BuildPlan(
        nodes=tuple(by_id[nid] for nid in order),
        max_parallel=spec.build.max_parallel,
        repo_limits={
            name: repo.max_parallel for name, repo in spec.repos.items() if repo.max_parallel
        },
        fail_fast=spec.build.fail_fast,
    )


def artifact_node(spec: Spec, repo: str, platform: str) -> str:
    """The build node a service runs: the repo's only leg, or its leg for ``platform``.

    Raises:
        PlanError: The repo has several legs and none for ``platform``.
    """
    candidates = [(node_id(repo, leg), leg) for leg in repo_legs(spec.repos[repo])]
    if len(candidates) == 1:
        return candidates[0][0]
    for nid, leg in candidates:
        if leg.get("platform") == platform:
            return nid
    raise PlanError(
        f"repo {repo!r} has no matrix leg for this platform {platform!r} "
        f"(legs: {', '.join(nid for nid, _ in candidates)})"
    )


def _service_plan(
    name: str,
    service: Service,
    artifact: str,
    spec_dir: Path,
    analysis: AnalysisSpec | None = None,
) -> ServicePlan:
    health = service.health
    return ServicePlan(
        name=name,
        artifact_node=artifact,
        command=service.run,
        env=dict(service.env),
        secrets=secret_sources(service.secrets, spec_dir),
        health=HealthPlan(
            path=health.path,
            status=health.status,
            timeout_s=health.timeout_seconds,
            interval_s=health.interval_seconds,
        ),
        replicas=service.replicas,
        strategy=strategy_options(service.strategy, analysis),
    )


def _blue_green(spec: BlueGreen) -> BlueGreenOptions:
    return BlueGreenOptions(
        auto_promote=spec.auto_promote,
        preview=spec.preview,
        smoke=spec.smoke,
        post_smoke=spec.post_smoke,
        traffic_steps=spec.traffic_steps,
        pause_s=spec.pause_seconds,
        scale_down_delay_s=spec.scale_down_delay_seconds,
        progress_deadline_s=spec.progress_deadline_seconds,
    )


def strategy_options(
    strategy: Strategy | None, analysis: AnalysisSpec | None = None
) -> StrategyOptions:
    """The plan's options for a service's ``strategy`` key; ``replace`` when it has none.

    ``analysis`` holds the templates a canary's analysis steps name.
    """
    if strategy is not None and strategy.blue_green is not None:
        return _blue_green(strategy.blue_green)
    if strategy is not None and strategy.canary is not None:
        return canary_options(strategy.canary, to_plans(analysis or AnalysisSpec()))
    if strategy is not None and strategy.experiment is not None:
        return experiment_options(strategy.experiment)
    return ReplaceOptions()


def _waves(environment: Environment) -> tuple[WavePlan, ...]:
    """The environment's waves with their bakes and failure budgets resolved."""
    rollout = environment.rollout
    waves = rollout.waves or tuple(Wave(regions=(name,)) for name in environment.regions)
    return tuple(
        WavePlan(
            regions=wave.regions,
            bake_s=rollout.bake if wave.bake is None else wave.bake,
            max_failed_regions=(
                rollout.max_failed_regions
                if wave.max_failed_regions is None
                else wave.max_failed_regions
            ),
        )
        for wave in waves
    )


def compile_plan(
    spec: Spec,
    spec_path: str | Path,
    environment: str,
    version: str | None = None,
    platform: str | None = None,
    durations: Mapping[str, float] | None = None,
    directory: Directory | None = None,
    requested_by: str = "",
    preview: bool = False,
) -> ReleasePlan:
    """Turn a validated spec and a release request into a plan.

    Args:
        spec: The loaded spec.
        spec_path: Where the spec was read from (relative sources resolve against it).
        environment: Name of the environment to release to.
        version: Version label to route to; empty means "derive from the build".
        platform: The platform services run on (default: this machine's); a service
            of a repo with a ``platform`` matrix runs that leg's artifact.
        durations: Node id → last measured build duration.
        directory: The ferryman config, resolving the environment's gate approvers.
        requested_by: Who starts the release (the authenticated user).
        preview: A plan to show, not to run: gates keep their approvers as written
            when there is no config.

    Returns:
        The plan the release workflow interprets.

    Raises:
        PlanError: If the environment is unknown or the spec has nothing to deploy.
    """
    path = Path(spec_path).resolve()
    if environment not in spec.environments:
        known = ", ".join(sorted(spec.environments)) or "none"
        raise PlanError(f"{spec_path}: unknown environment {environment!r} (known: {known})")
    if version is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}", version):
        raise PlanError(f"invalid version {version!r}: use letters, digits, '.', '_' and '-'")
    env = spec.environments[environment]
    target = platform or local_platform()
    regions = tuple(
        RegionPlan(name=name, zones=region.zones, data_plane=region.data_plane)
        for name, region in env.regions.items()
    )
    rollout = env.rollout
    services = tuple(
        _service_plan(
            name,
            service,
            artifact_node(spec, service.artifact, target),
            path.parent,
            spec.analysis,
        )
        for name, service in spec.services.items()
    )
    deploy = DeployPlan(
        environment=environment,
        platform=env.platform,
        regions=regions,
        services=services,
        waves=_waves(env),
        keep_previous=rollout.keep_previous,
        on_failure=rollout.on_failure,
        steps=compile_steps(env.steps, path.parent),
    )
    gates = compile_gates(environment, env, directory, len(deploy.ordered_waves()), preview=preview)
    return ReleasePlan(
        system=spec.system,
        environment=environment,
        version=version or "",
        spec_path=str(path),
        build=compile_build(spec, path, durations=durations),
        deploy=deploy.model_copy(update={"gates": gates}),
        requested_by=requested_by,
    )
