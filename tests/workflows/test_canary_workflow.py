"""Canary and experiment steps of RegionDeployWorkflow on the time-skipping server.

The provider is the in-memory fake and the analysis activities are scripted:
each look answers the verdict the test asks for. These pin the workflow's
decisions for every outcome (pass, fail, inconclusive, no data, a promotion
during analysis, a cancel during a hold, an experiment won or lost); the
integration tests prove the judges on real metrics.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from temporalio import activity
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from ferryman.analysis.models import Judgement, SampleSummary
from ferryman.analysis.runs import ExperimentPlan, ExperimentState
from ferryman.analysis.templates import AnalysisQuery, MetricPlan, TemplatePlan
from ferryman.analysis.threshold import ThresholdConfig
from ferryman.deploy.strategies import CanaryOptions, ExperimentOptions, StrategyOptions
from ferryman.deploy.strategies.canary import AnalysisStep, PauseStep, SetWeight
from ferryman.plan.models import HealthPlan, ServicePlan
from ferryman.platform.models import RouteTable
from ferryman.temporal.models.analysis import AnalyzeInput, AnalyzeOutput, ExperimentInput
from ferryman.temporal.models.region import (
    Decision,
    RegionDeployRequest,
    RegionResult,
    ServiceRollout,
)
from ferryman.temporal.workflows.region import RegionDeployWorkflow
from ferryman.testing.artifacts import store_signed
from ferryman.testing.fake_provider import FakeProvider
from ferryman.testing.workers import serving

ZONES = ("a", "b")
RegionHandle = WorkflowHandle[RegionDeployWorkflow, RegionResult]
TEMPLATE = TemplatePlan(
    name="errors",
    metrics=(
        MetricPlan(
            name="rate",
            source="local",
            query=AnalysisQuery(kind="error_rate"),
            judge=ThresholdConfig(success_condition="result < 0.01", count=3, interval_s=5),
            interval_s=5,
            count=3,
        ),
    ),
)
ANALYSIS = AnalysisStep(templates=(TEMPLATE,))


@dataclass
class ScriptedAnalysis:
    """Analysis activities that answer what the test scripts, one verdict per look."""

    verdicts: list[str] = field(default_factory=lambda: ["pass"])
    by_region: dict[str, str] = field(default_factory=dict)
    experiment_verdicts: list[str] = field(default_factory=lambda: ["continue", "pass"])
    looks: list[AnalyzeInput] = field(default_factory=list)
    experiment_looks: list[ExperimentInput] = field(default_factory=list)

    @activity.defn(name="ferryman.analyze")
    async def analyze(self, data: AnalyzeInput) -> AnalyzeOutput:
        verdict = self.verdicts[min(len(self.looks), len(self.verdicts) - 1)]
        verdict = self.by_region.get(data.region, verdict)
        self.looks.append(data)
        return AnalyzeOutput(
            states=tuple(
                job.state.model_copy(
                    update={
                        "looks": job.state.looks + 1,
                        "judgement": Judgement(
                            metric=job.metric.name,
                            judge="threshold",
                            verdict=verdict,
                            reason=f"scripted {verdict}",
                        ),
                    }
                )
                for job in data.jobs
            )
        )

    @activity.defn(name="ferryman.experiment")
    async def experiment(self, data: ExperimentInput) -> ExperimentState:
        index = min(len(self.experiment_looks), len(self.experiment_verdicts) - 1)
        verdict = self.experiment_verdicts[index]
        self.experiment_looks.append(data)
        winner = {"pass": data.treatment, "fail": data.control}.get(verdict)
        return data.state.model_copy(
            update={
                "looks": data.state.looks + 1,
                "winner": winner,
                "judgement": Judgement(
                    metric="conversion",
                    judge="experiment",
                    verdict=verdict,
                    canary=SampleSummary(n=100 * (index + 1), events=12 * (index + 1)),
                    baseline=SampleSummary(n=100 * (index + 1), events=10 * (index + 1)),
                    reason=f"scripted {verdict}",
                ),
            }
        )


@dataclass
class RecordingProvider(FakeProvider):
    tables: list[RouteTable] = field(default_factory=list)

    async def set_traffic(self, key: str, region: str, routes: RouteTable) -> int:
        generation = await super().set_traffic(key, region, routes)
        if not self.tables or self.tables[-1] != routes:
            self.tables.append(routes)
        return generation


@dataclass
class Harness:
    env: WorkflowEnvironment
    provider: RecordingProvider
    analysis: ScriptedAnalysis
    queue: str
    digest: str

    async def start(self, version: str, strategy: StrategyOptions) -> RegionHandle:
        service = ServicePlan(
            name="web",
            artifact_node="app",
            command="serve",
            replicas=1,
            health=HealthPlan(timeout_s=1, interval_s=0.05),
            strategy=strategy,
        )
        request = RegionDeployRequest(
            release_id=f"release/test/eu-1/{uuid.uuid4()}",
            platform="fake",
            environment="test",
            region="eu-1",
            zones=ZONES,
            services=(
                ServiceRollout(service=service, version=version, artifact_digest=self.digest),
            ),
        )
        return await self.env.client.start_workflow(
            RegionDeployWorkflow.run, request, id=f"region-{uuid.uuid4()}", task_queue=self.queue
        )

    async def stable(self) -> None:
        await (await self.start("v1", CanaryOptions())).result()
        self.provider.tables.clear()

    def weights(self) -> list[dict[str, int]]:
        return [dict(table.weights) for table in self.provider.tables]

    def versions(self) -> set[str]:
        return {v for (_, _, _, v), n in self.provider.instances.items() if n}


@pytest.fixture
async def harness(
    time_skipping: WorkflowEnvironment, ferryman_home: Path, tmp_path: Path
) -> AsyncIterator[Harness]:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "serve").write_text("#!/bin/sh\n")
    digest = store_signed(tmp_path / "app", ["serve"])
    provider = RecordingProvider()
    analysis = ScriptedAnalysis()
    client = time_skipping.client
    async with serving(
        client,
        lambda platform, environment: provider,
        ["eu-1"],
        analysis=[analysis.analyze, analysis.experiment],
    ) as queue:
        yield Harness(time_skipping, provider, analysis, queue, digest)


def canary(*weights: int, **options: object) -> CanaryOptions:
    steps: list[object] = []
    for weight in weights:
        steps += [SetWeight(weight=weight), ANALYSIS]
    return CanaryOptions.model_validate({"steps": steps, "scale_down_delay_s": 0, **options})


async def until(handle: RegionHandle, check: Callable[[str, str], bool]) -> None:
    """Poll the progress query until ``check(region phase, service phase)`` holds."""
    for _ in range(400):
        progress = await handle.query(RegionDeployWorkflow.progress)
        service = progress.services[0].phase if progress.services else ""
        if check(progress.phase, service):
            return
        await asyncio.sleep(0.025)
    raise AssertionError("the deploy never got there")


async def looked(harness: Harness) -> None:
    """Wait until the analysis activity has been called at least once."""
    for _ in range(400):
        if harness.analysis.looks:
            return
        await asyncio.sleep(0.025)
    raise AssertionError("the analysis never looked")


def held(region: str, service: str) -> bool:
    return region == "awaiting-promotion"


async def test_good_canary_walks_every_weight_then_promotes(harness: Harness) -> None:
    await harness.stable()
    result = await (await harness.start("v2", canary(5, 25, 50))).result()
    assert result.status == "switched"
    assert harness.weights() == [
        {"v2": 5, "v1": 90, "v1.baseline": 5},
        {"v2": 25, "v1": 50, "v1.baseline": 25},
        {"v2": 50, "v1.baseline": 50},
        {"v2": 100},
    ]
    assert harness.versions() == {"v1", "v2"}, "baseline retired, stable kept warm"
    assert len(harness.analysis.looks) == 3
    assert harness.analysis.looks[0].sides.baseline == "v1.baseline"


async def test_a_failing_analysis_leaves_in_one_swap_and_fails_the_region(harness: Harness) -> None:
    await harness.stable()
    harness.analysis.verdicts = ["continue", "fail"]
    handle = await harness.start("v2", canary(5, 25))
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    assert "analysis at 5% failed: errors/rate: scripted fail" in str(failure.value.cause)
    assert harness.weights() == [{"v2": 5, "v1": 90, "v1.baseline": 5}, {"v1": 100}]
    assert harness.versions() == {"v1"}, "canary and baseline retired"
    records = (await handle.query(RegionDeployWorkflow.analysis)).records
    assert [r.judgement.verdict for r in records] == ["continue", "fail", "fail"]
    assert records[-1].key == "run"


async def test_inconclusive_holds_until_promoted_and_each_hold_needs_its_own(
    harness: Harness,
) -> None:
    await harness.stable()
    harness.analysis.verdicts = ["inconclusive"]
    handle = await harness.start("v2", canary(5, 25))
    await until(handle, held)
    assert harness.weights()[-1] == {"v2": 5, "v1": 90, "v1.baseline": 5}
    view = (await handle.query(RegionDeployWorkflow.progress)).services[0]
    assert view.phase == "hold" and "inconclusive" in view.analysis
    await handle.execute_update(RegionDeployWorkflow.promote, Decision(by="alice"))
    await until(handle, lambda region, _: region != "awaiting-promotion")
    await until(handle, held)
    assert harness.weights()[-1] == {"v2": 25, "v1": 50, "v1.baseline": 25}
    await handle.execute_update(RegionDeployWorkflow.promote, Decision(by="bob"))
    assert (await handle.result()).status == "switched"
    decisions = [
        r.judgement.reason
        for r in (await handle.query(RegionDeployWorkflow.analysis)).records
        if r.key == "decision"
    ]
    assert decisions == ["promoted by alice", "promoted by bob"]


@pytest.mark.parametrize(("policy", "outcome"), [("fail", "failed"), ("pass", "switched")])
async def test_no_data_follows_the_policy(harness: Harness, policy: str, outcome: str) -> None:
    await harness.stable()
    harness.analysis.verdicts = ["no-data"]
    handle = await harness.start("v2", canary(5, on_no_data=policy))
    try:
        status = (await handle.result()).status
    except WorkflowFailureError as failure:
        assert "analysis at 5% failed: errors/rate: scripted no-data" in str(failure.cause)
        status = "failed"
    assert status == outcome


async def test_no_data_pauses_by_default(harness: Harness) -> None:
    await harness.stable()
    harness.analysis.verdicts = ["no-data"]
    handle = await harness.start("v2", canary(5))
    await until(handle, held)
    await handle.execute_update(RegionDeployWorkflow.promote, Decision(by="carol"))
    assert (await handle.result()).status == "switched"


async def test_a_promotion_during_analysis_ends_it(harness: Harness) -> None:
    await harness.stable()
    harness.analysis.verdicts = ["continue"]
    handle = await harness.start("v2", canary(5))
    await until(handle, lambda _, service: service == "analyze")
    await looked(harness)
    await handle.execute_update(RegionDeployWorkflow.promote, Decision(by="dave"))
    assert (await handle.result()).status == "switched"
    assert harness.weights()[-1] == {"v2": 100}


async def test_a_cancel_during_a_hold_puts_the_stable_version_back(harness: Harness) -> None:
    await harness.stable()
    options = CanaryOptions(steps=(SetWeight(weight=10), PauseStep()), scale_down_delay_s=0)
    handle = await harness.start("v2", options)
    await until(handle, held)
    await handle.cancel()
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    assert harness.weights()[-1] == {"v1": 100}
    assert harness.versions() == {"v1"}


async def test_a_timed_pause_passes_by_itself(harness: Harness) -> None:
    await harness.stable()
    options = CanaryOptions(
        steps=(SetWeight(weight=10), PauseStep(seconds=600), SetWeight(weight=50)),
        baseline="stable",
        scale_down_delay_s=0,
    )
    assert (await (await harness.start("v2", options)).result()).status == "switched"
    assert harness.weights() == [{"v2": 10, "v1": 90}, {"v2": 50, "v1": 50}, {"v2": 100}]


def experiment(**options: object) -> ExperimentOptions:
    plan = ExperimentPlan(exposures="x_total", conversions="c_total", interval_s=5)
    return ExperimentOptions.model_validate(
        {"percent": 50, "plan": plan, "scale_down_delay_s": 0, **options}
    )


async def test_an_experiment_the_treatment_wins_switches_to_it(harness: Harness) -> None:
    await harness.stable()
    handle = await harness.start("v2", experiment())
    assert (await handle.result()).status == "switched"
    assert harness.weights() == [{"v1": 50, "v2": 50}, {"v2": 100}]
    records = (await handle.query(RegionDeployWorkflow.analysis)).records
    assert [r.judgement.verdict for r in records] == ["continue", "pass"]


async def test_an_experiment_the_control_wins_goes_back_to_it(harness: Harness) -> None:
    await harness.stable()
    harness.analysis.experiment_verdicts = ["continue", "continue", "fail"]
    handle = await harness.start("v2", experiment())
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    assert "experiment: v1 wins: scripted fail" in str(failure.value.cause)
    assert harness.weights() == [{"v1": 50, "v2": 50}, {"v1": 100}]
    assert harness.versions() == {"v1"}
    records = (await handle.query(RegionDeployWorkflow.analysis)).records
    assert [r.key for r in records] == ["conversion"] * 3
    assert records[-1].judgement.canary.n == 300


async def test_an_experiment_without_a_difference_holds_for_a_human(harness: Harness) -> None:
    await harness.stable()
    harness.analysis.experiment_verdicts = ["continue", "inconclusive"]
    handle = await harness.start("v2", experiment())
    await until(handle, held)
    await handle.execute_update(RegionDeployWorkflow.promote, Decision(by="erin"))
    assert (await handle.result()).status == "switched"
    assert harness.weights()[-1] == {"v2": 100}
