"""Running real releases in tests: plans on private task queues, in-process workers."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import httpx
from temporalio.client import Client

from ferryman.plan.compile import compile_plan
from ferryman.plan.models import ReleasePlan
from ferryman.spec.load import load_spec
from ferryman.temporal.activities.analysis import MetricSources
from ferryman.temporal.models.release import ReleaseResult
from ferryman.temporal.worker.workers import local_providers
from ferryman.temporal.workflows.release import ReleaseWorkflow
from ferryman.testing.workers import serving


def hello_plan(spec: Path, version: str | None = None) -> ReleasePlan:
    """The hello example's plan for its ``dev`` environment."""
    return plan_on(spec, "dev", version)


def plan_on(spec: Path, environment: str, version: str | None = None) -> ReleasePlan:
    """A spec's plan for ``environment``, without its approval gates (their tests add them)."""
    loaded = load_spec(spec)
    if environment in loaded.environments:
        ungated = loaded.environments[environment].model_copy(update={"gates": {}})
        environments = {**loaded.environments, environment: ungated}
        loaded = loaded.model_copy(update={"environments": environments})
    return compile_plan(loaded, spec, environment, version)


def with_service(plan: ReleasePlan, **changes: object) -> ReleasePlan:
    """``plan`` with its first service changed."""
    service = plan.deploy.services[0].model_copy(update=changes)
    deploy = plan.deploy.model_copy(update={"services": (service, *plan.deploy.services[1:])})
    return plan.model_copy(update={"deploy": deploy})


async def release(client: Client, agent_url: str, plan: ReleasePlan) -> ReleaseResult:
    """Run one release to completion with in-process workers on a private queue."""
    regions = [region.name for region in plan.deploy.regions]
    metrics = MetricSources(agent_url)
    async with serving(client, local_providers(agent_url), regions, metrics=metrics) as queue:
        return await client.execute_workflow(
            ReleaseWorkflow.run,
            plan,
            id=f"release/{plan.system}/{plan.environment}/{uuid.uuid4()}",
            task_queue=queue,
        )


def commit_change(app: Path, greeting: str) -> None:
    """Change the hello app's greeting and commit it."""
    (app / "greeting.txt").write_text(greeting + "\n")
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid", "commit", "-qam", greeting],
        cwd=app,
        check=True,
    )


def served(url: str, requests: int = 10) -> list[dict[str, str]]:
    """What the router answers to ``requests`` GETs, with the version header folded in."""
    answers = []
    with httpx.Client(timeout=5) as http:
        for _ in range(requests):
            response = http.get(url)
            response.raise_for_status()
            body = response.json()
            body["header_version"] = response.headers["X-Ferryman-Version"]
            answers.append(body)
    return answers
