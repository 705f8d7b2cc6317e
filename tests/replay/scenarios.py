"""The example releases whose histories are the replay fixtures.

Each scenario runs real releases (real build activities on a real git repo, an
in-memory platform) on a Temporal server through ``serving``'s in-process
workers, and returns the id of the one release whose history tree is kept.
Every scenario has its own central queue, so its environment's lock is its own.
Durations are short: the dev server's timers are real.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client, WorkflowFailureError

from ferryman.analysis.templates import AnalysisQuery, MetricPlan, TemplatePlan
from ferryman.analysis.threshold import ThresholdConfig
from ferryman.approvals.policy import GateDecision
from ferryman.deploy.strategies import CanaryOptions
from ferryman.deploy.strategies.canary import AnalysisStep, SetWeight
from ferryman.plan.models import ReleasePlan, WavePlan
from ferryman.temporal.models.region import Decision
from ferryman.temporal.names import lock_id, region_deploy_id
from ferryman.temporal.workflows.region import RegionDeployWorkflow
from ferryman.temporal.workflows.release import ReleaseWorkflow
from ferryman.testing.fake_provider import FakeProvider
from ferryman.testing.waiting import eventually
from ferryman.testing.workers import serving
from tests.workflows.test_canary_workflow import ScriptedAnalysis
from tests.workflows.test_gates import BLUE_GREEN, gated_plan
from tests.workflows.test_release_workflow import make_plan, make_repo

WAVES = ("eu-1", "eu-2", "eu-3")


@dataclass(frozen=True)
class Recorded:
    """What a scenario leaves to save: its release, and the lock it took."""

    release_id: str
    lock_id: str


Scenario = Callable[[Client, Path], Awaitable[Recorded]]


def in_waves(plan: ReleasePlan, regions: tuple[str, ...], **deploy: object) -> ReleasePlan:
    """``plan`` with one wave per region, in order, and other deploy fields replaced."""
    waves = tuple(WavePlan(regions=(region,)) for region in regions)
    update = {"waves": waves, **deploy}
    return plan.model_copy(update={"deploy": plan.deploy.model_copy(update=update)})


async def plain(client: Client, root: Path) -> Recorded:
    """A first release: build, one region of two zones, finalize."""
    make_repo(root)
    provider = FakeProvider()
    async with serving(client, lambda p, e: provider, ["eu-1"], central="replay-plain") as queue:
        release = "release/hello/dev/plain"
        result = await client.execute_workflow(
            ReleaseWorkflow.run, make_plan(root, "v1"), id=release, task_queue=queue
        )
        assert result.status == "succeeded", result
        return Recorded(release, lock_id("hello", "dev", queue))


async def saga(client: Client, root: Path) -> Recorded:
    """Three one-region waves; the third never gets healthy, the saga restores eu-2 then eu-1."""
    make_repo(root)
    provider = FakeProvider()
    async with serving(client, lambda p, e: provider, WAVES, central="replay-saga") as queue:
        first = in_waves(make_plan(root, "v1", health_s=0.5, regions=WAVES), WAVES)
        await client.execute_workflow(
            ReleaseWorkflow.run, first, id="release/hello/dev/saga-v1", task_queue=queue
        )
        provider.unhealthy_zones = {"eu-3/b"}
        release = "release/hello/dev/saga-v2"
        second = in_waves(make_plan(root, "v2", health_s=0.5, regions=WAVES), WAVES)
        try:
            await client.execute_workflow(ReleaseWorkflow.run, second, id=release, task_queue=queue)
        except WorkflowFailureError as failure:
            assert "restored eu-2, eu-1" in str(failure.cause), failure.cause
        else:
            raise AssertionError("the second release should have failed in its third wave")
        assert provider.routes[("eu-1", "web")].weights == {"v1": 100}
        return Recorded(release, lock_id("hello", "dev", queue))


async def rollback(client: Client, root: Path) -> Recorded:
    """A ``rollback`` Update during the first wave's bake puts that region back."""
    make_repo(root)
    provider = FakeProvider()
    regions = ("eu-1", "eu-2")
    async with serving(client, lambda p, e: provider, regions, central="replay-rollback") as queue:
        first = in_waves(make_plan(root, "v1", health_s=0.5, regions=regions), regions)
        await client.execute_workflow(
            ReleaseWorkflow.run, first, id="release/hello/dev/rollback-v1", task_queue=queue
        )
        second = in_waves(make_plan(root, "v2", health_s=0.5, regions=regions), regions)
        baking = tuple(wave.model_copy(update={"bake_s": 3600}) for wave in second.deploy.waves)
        second = in_waves(second, regions, waves=baking)
        release = "release/hello/dev/rollback-v2"
        handle = await client.start_workflow(
            ReleaseWorkflow.run, second, id=release, task_queue=queue
        )

        async def in_bake() -> bool:
            return (await handle.query(ReleaseWorkflow.progress)).phase == "bake"

        await eventually(in_bake, what="the first wave's bake")
        await handle.execute_update(ReleaseWorkflow.rollback, Decision(by="erin", reason="p99 up"))
        assert (await handle.result()).status == "rolled-back"
        assert provider.routes[("eu-1", "web")].weights == {"v1": 100}
        return Recorded(release, lock_id("hello", "dev", queue))


async def gate(client: Client, root: Path) -> Recorded:
    """A go-live gate approved by bob, then a blue-green promotion gate approved by carol."""
    make_repo(root)
    provider = FakeProvider()
    gates = {
        "go-live": {"at": "before-environment", "approvers": ["release-managers"], "timeout": "1h"},
        "promote": {"at": "promotion", "approvers": ["bob", "carol"]},
    }
    plan = gated_plan(root, gates, "v1", strategy=BLUE_GREEN)
    async with serving(client, lambda p, e: provider, ["eu-1"], central="replay-gate") as queue:
        release = "release/hello/prod/gate"
        handle = await client.start_workflow(
            ReleaseWorkflow.run, plan, id=release, task_queue=queue
        )

        async def release_gate_open() -> bool:
            return any(e.kind == "opened" for e in await handle.query(ReleaseWorkflow.audit))

        await eventually(release_gate_open, what="the go-live gate")
        await handle.execute_update(
            ReleaseWorkflow.decide, GateDecision(user="bob", comment="change approved")
        )
        region = client.get_workflow_handle_for(
            RegionDeployWorkflow.run, region_deploy_id(release, "eu-1")
        )

        async def promotion_open() -> bool:
            try:
                audit = await region.query(RegionDeployWorkflow.audit)
            except Exception:  # not started yet
                return False
            return any(e.kind == "opened" for e in audit)

        await eventually(promotion_open, what="the promotion gate")
        await region.execute_update(
            RegionDeployWorkflow.decide, GateDecision(user="carol", comment="preview fine")
        )
        assert (await handle.result()).status == "succeeded"
        return Recorded(release, lock_id("hello", "prod", queue))


SHORT_ANALYSIS = AnalysisStep(
    templates=(
        TemplatePlan(
            name="errors",
            metrics=(
                MetricPlan(
                    name="rate",
                    source="local",
                    query=AnalysisQuery(kind="error_rate"),
                    judge=ThresholdConfig(success_condition="result < 0.01", count=2, interval_s=1),
                    interval_s=1,
                    count=2,
                ),
            ),
        ),
    )
)


async def canary(client: Client, root: Path) -> Recorded:
    """A canary at 20% judged by (scripted) analysis, then promoted to everyone."""
    make_repo(root)
    provider = FakeProvider()
    analysis = ScriptedAnalysis()
    strategy = CanaryOptions(steps=(SetWeight(weight=20), SHORT_ANALYSIS), scale_down_delay_s=0)
    async with serving(
        client,
        lambda p, e: provider,
        ["eu-1"],
        central="replay-canary",
        analysis=[analysis.analyze, analysis.experiment],
    ) as queue:
        for version in ("v1", "v2"):
            plan = make_plan(root, version, health_s=0.5)
            service = plan.deploy.services[0].model_copy(update={"strategy": strategy})
            deploy = plan.deploy.model_copy(update={"services": (service,)})
            release = f"release/hello/dev/canary-{version}"
            result = await client.execute_workflow(
                ReleaseWorkflow.run,
                plan.model_copy(update={"deploy": deploy}),
                id=release,
                task_queue=queue,
            )
            assert result.status == "succeeded", result
        assert analysis.looks, "the canary was judged"
        return Recorded(release, lock_id("hello", "dev", queue))


SCENARIOS: dict[str, Scenario] = {
    "plain": plain,
    "saga": saga,
    "rollback": rollback,
    "gate": gate,
    "canary": canary,
}
"""Scenario name → how to run it; the name prefixes its fixtures' file names."""
