"""Compile a ``Spec`` and a release request into a ``ReleasePlan`` (pure)."""

from __future__ import annotations

import re
from pathlib import Path

from ferryman.errors import PlanError
from ferryman.plan.models import (
    BuildNode,
    BuildPlan,
    DeployPlan,
    HealthPlan,
    RegionPlan,
    ReleasePlan,
    ServicePlan,
    StepPlan,
)
from ferryman.spec.models import Repo, Service, Spec

_URL = re.compile(r"^([a-z][a-z0-9+.-]*://|git@)")


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


def _build_node(name: str, repo: Repo, spec_dir: Path) -> BuildNode:
    steps = tuple(
        StepPlan(
            name=step.name,
            run=step.run,
            env={**repo.build.env, **step.env},
            working_directory=step.working_directory,
            timeout_s=step.timeout_minutes * 60.0,
            shell=step.shell,
        )
        for step in repo.build.steps
    )
    return BuildNode(
        id=name,
        repo=name,
        source=resolve_source(repo.source, spec_dir),
        ref=repo.ref,
        steps=steps,
        outputs=repo.outputs,
    )


def _service_plan(name: str, service: Service) -> ServicePlan:
    health = service.health
    return ServicePlan(
        name=name,
        artifact_node=service.artifact,
        command=service.run,
        env=dict(service.env),
        health=HealthPlan(
            path=health.path,
            status=health.status,
            timeout_s=health.timeout_seconds,
            interval_s=health.interval_seconds,
        ),
        replicas=service.replicas,
    )


def compile_plan(
    spec: Spec,
    spec_path: str | Path,
    environment: str,
    version: str | None = None,
) -> ReleasePlan:
    """Turn a validated spec and a release request into a plan.

    Args:
        spec: The loaded spec.
        spec_path: Where the spec was read from (relative sources resolve against it).
        environment: Name of the environment to release to.
        version: Version label to route to; empty means "derive from the build".

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
    nodes = tuple(_build_node(name, repo, path.parent) for name, repo in spec.repos.items())
    regions = tuple(
        RegionPlan(name=name, zones=region.zones) for name, region in env.regions.items()
    )
    services = tuple(_service_plan(name, service) for name, service in spec.services.items())
    return ReleasePlan(
        system=spec.system,
        environment=environment,
        version=version or "",
        spec_path=str(path),
        build=BuildPlan(nodes=nodes),
        deploy=DeployPlan(
            environment=environment, platform=env.platform, regions=regions, services=services
        ),
    )
