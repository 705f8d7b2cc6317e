"""A canary whose analysis fails in the second wave: the release's saga puts the first back."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from ferryman.deploy.strategies import CanaryOptions
from ferryman.deploy.strategies.canary import SetWeight
from ferryman.plan.models import ReleasePlan, WavePlan
from ferryman.temporal.workflows.release import ReleaseWorkflow
from ferryman.testing.fake_provider import FakeProvider
from ferryman.testing.workers import serving

from .test_canary_workflow import ANALYSIS, ScriptedAnalysis
from .test_release_workflow import make_plan, make_repo

REGIONS = ("eu-1", "eu-2")


def canary_plan(root: Path, version: str) -> ReleasePlan:
    plan = make_plan(root, version, health_s=0.5, regions=REGIONS)
    strategy = CanaryOptions(steps=(SetWeight(weight=5), ANALYSIS), scale_down_delay_s=0)
    service = plan.deploy.services[0].model_copy(update={"strategy": strategy})
    deploy = plan.deploy.model_copy(
        update={"services": (service,), "waves": tuple(WavePlan(regions=(r,)) for r in REGIONS)}
    )
    return plan.model_copy(update={"deploy": deploy})


async def test_a_failed_analysis_in_the_second_wave_restores_the_first(
    time_skipping: WorkflowEnvironment, tmp_path: Path, ferryman_home: Path
) -> None:
    make_repo(tmp_path)
    provider = FakeProvider()
    analysis = ScriptedAnalysis(by_region={"eu-2": "fail"})
    client = time_skipping.client
    async with serving(
        client, lambda p, e: provider, REGIONS, analysis=[analysis.analyze, analysis.experiment]
    ) as queue:

        async def run(version: str) -> object:
            return await client.execute_workflow(
                ReleaseWorkflow.run,
                canary_plan(tmp_path, version),
                id=f"release/hello/dev/{uuid.uuid4()}",
                task_queue=queue,
            )

        await run("v1")
        with pytest.raises(WorkflowFailureError) as failure:
            await run("v2")
    message = str(failure.value.cause)
    assert "eu-2: analysis at 5% failed: errors/rate: scripted fail" in message
    assert "restored eu-1" in message
    for region in REGIONS:
        assert provider.routes[(region, "web")].weights == {"v1": 100}, region
        running = {v for (r, _, _, v), n in provider.instances.items() if r == region and n}
        assert running == {"v1"}, region
    assert {look.region for look in analysis.looks} == set(REGIONS)
