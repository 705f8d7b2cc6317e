"""ReleaseWorkflow logic on the time-skipping server with an in-memory provider.

Build activities are real (a real git repo, real steps); only the platform is
faked, so these tests pin the workflow's decisions, not the platform's effects
(those are proven in tests/integration against the real agent).
"""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from ferryman.plan.compile import compile_plan
from ferryman.plan.models import ReleasePlan
from ferryman.spec.models import Spec
from ferryman.temporal.models.release import ReleaseResult
from ferryman.temporal.workflows.release import ReleaseWorkflow
from ferryman.testing.fake_provider import FakeProvider
from ferryman.testing.workers import serving


def make_repo(root: Path, test_command: str = "true") -> Path:
    repo = root / "app"
    repo.mkdir(parents=True)
    (repo / "main.txt").write_text("hello\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=repo, check=True)
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "one"], cwd=repo, check=True)
    return repo


def make_plan(
    root: Path,
    version: str | None = None,
    test_command: str = "true",
    health_s: float = 5,
    regions: tuple[str, ...] = ("eu-1",),
) -> ReleasePlan:
    spec = Spec.model_validate(
        {
            "system": "hello",
            "repos": {
                "hello": {
                    "source": "./app",
                    "build": {
                        "steps": [
                            {"name": "test", "run": test_command},
                            {"name": "package", "run": "mkdir -p dist && cp main.txt dist/"},
                        ]
                    },
                    "outputs": ["dist/**"],
                }
            },
            "services": {
                "web": {
                    "artifact": "hello",
                    "run": "serve",
                    "replicas": 2,
                    "health": {"timeout-seconds": health_s, "interval-seconds": 0.1},
                }
            },
            "environments": {"dev": {"regions": {r: {"zones": ["a", "b"]} for r in regions}}},
        }
    )
    return compile_plan(spec, root / "ferryman.yaml", "dev", version)


async def run_release(
    env: WorkflowEnvironment, provider: FakeProvider, plan: ReleasePlan
) -> ReleaseResult:
    async with serving(env.client, lambda p, e: provider, regions_of(plan)) as queue:
        return await env.client.execute_workflow(
            ReleaseWorkflow.run, plan, id=f"release/hello/dev/{uuid.uuid4()}", task_queue=queue
        )


def regions_of(plan: ReleasePlan) -> list[str]:
    return [region.name for region in plan.deploy.regions]


def head_commit(repo: Path) -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture
def repo_root(tmp_path: Path, ferryman_home: Path) -> Path:
    make_repo(tmp_path)
    return tmp_path


async def test_release_starts_switches_and_retires(
    time_skipping: WorkflowEnvironment, repo_root: Path
) -> None:
    provider = FakeProvider()
    first = await run_release(time_skipping, provider, make_plan(repo_root, "v1"))
    assert first.status == "succeeded"
    assert provider.routes[("eu-1", "web")].weights == {"v1": 100}
    assert provider.starts == 4

    second = await run_release(time_skipping, provider, make_plan(repo_root, "v2"))
    assert second.status == "succeeded"
    assert provider.routes[("eu-1", "web")].weights == {"v2": 100}
    assert set(provider.instances) == {("eu-1", "a", "web", "v2"), ("eu-1", "b", "web", "v2")}


async def test_same_version_twice_is_a_noop(
    time_skipping: WorkflowEnvironment, repo_root: Path
) -> None:
    provider = FakeProvider()
    await run_release(time_skipping, provider, make_plan(repo_root, "v1"))
    calls = len(provider.calls)
    again = await run_release(time_skipping, provider, make_plan(repo_root, "v1"))
    assert again.status == "unchanged"
    assert len(provider.calls) == calls
    assert provider.starts == 4


async def test_version_defaults_to_the_source_commit(
    time_skipping: WorkflowEnvironment, repo_root: Path
) -> None:
    commit = head_commit(repo_root / "app")
    result = await run_release(time_skipping, FakeProvider(), make_plan(repo_root))
    assert result.version == commit[:12]


async def test_unhealthy_zone_rolls_back_and_keeps_the_old_version(
    time_skipping: WorkflowEnvironment, repo_root: Path
) -> None:
    provider = FakeProvider()
    await run_release(time_skipping, provider, make_plan(repo_root, "v1"))
    provider.unhealthy_zones = {"b"}
    with pytest.raises(WorkflowFailureError) as failure:
        await run_release(time_skipping, provider, make_plan(repo_root, "v2", health_s=0.5))
    message = str(failure.value.cause)
    assert "eu-1: zone b: web v2 0/2 instances healthy" in message
    assert provider.routes[("eu-1", "web")].weights == {"v1": 100}
    assert set(provider.instances) == {("eu-1", "a", "web", "v1"), ("eu-1", "b", "web", "v1")}


async def test_failing_build_step_fails_the_release_before_any_deploy(
    time_skipping: WorkflowEnvironment, repo_root: Path
) -> None:
    provider = FakeProvider()
    plan = make_plan(repo_root, "v1", test_command="echo 'assertion failed' && exit 3")
    with pytest.raises(WorkflowFailureError) as failure:
        await run_release(time_skipping, provider, plan)
    message = str(failure.value.cause)
    assert "build failed: hello failed" in message
    assert "step 'test' exited with code 3: assertion failed" in message
    assert provider.calls == []
