"""Approval gates in ReleaseWorkflow and RegionDeployWorkflow, on the time-skipping server.

Build activities are real, the platform is the in-memory fake. Timers (gate
timeouts) are skipped with ``env.sleep``; decisions are ``decide`` Updates whose
validator applies the policy, so a refused decision leaves nothing in history.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from ferryman.approvals.audit import AuditEvent
from ferryman.approvals.policy import GateDecision
from ferryman.identity.models import Directory
from ferryman.identity.tokens import hash_token
from ferryman.plan.compile import compile_plan
from ferryman.plan.models import ReleasePlan
from ferryman.spec.models import Spec
from ferryman.temporal.models.release import ReleaseResult
from ferryman.temporal.names import region_deploy_id
from ferryman.temporal.workflows.region import RegionDeployWorkflow
from ferryman.temporal.workflows.release import ReleaseWorkflow
from ferryman.testing.fake_provider import FakeProvider
from ferryman.testing.workers import serving

from .test_release_workflow import make_repo

DIRECTORY = Directory.model_validate(
    {
        "users": {n: {"token": hash_token("x")} for n in ("alice", "bob", "carol", "dave")},
        "groups": {"release-managers": ["alice", "bob", "carol"], "sre": ["dave"]},
    }
)
ReleaseHandle = WorkflowHandle[ReleaseWorkflow, ReleaseResult]


def gated_plan(
    root: Path,
    gates: dict[str, Any],
    version: str = "v1",
    regions: tuple[str, ...] = ("eu-1",),
    strategy: dict[str, Any] | None = None,
) -> ReleasePlan:
    service: dict[str, Any] = {
        "artifact": "hello",
        "run": "serve",
        "health": {"timeout-seconds": 5, "interval-seconds": 0.1},
    }
    if strategy is not None:
        service["strategy"] = strategy
    spec = Spec.model_validate(
        {
            "system": "hello",
            "repos": {
                "hello": {
                    "source": "./app",
                    "build": {"steps": [{"name": "pack", "run": "mkdir -p d && cp main.txt d/"}]},
                    "outputs": ["d/**"],
                }
            },
            "services": {"web": service},
            "environments": {
                "prod": {"regions": {r: {"zones": ["a"]} for r in regions}, "gates": gates}
            },
        }
    )
    return compile_plan(
        spec, root / "ferryman.yaml", "prod", version, directory=DIRECTORY, requested_by="alice"
    )


@pytest.fixture
def repo_root(tmp_path: Path, ferryman_home: Path) -> Path:
    make_repo(tmp_path)
    return tmp_path


class Running:
    """A release under way with in-process workers."""

    def __init__(self, env: WorkflowEnvironment, provider: FakeProvider, handle: ReleaseHandle):
        self.env, self.provider, self.handle = env, provider, handle

    async def audit(self) -> list[AuditEvent]:
        return list(await self.handle.query(ReleaseWorkflow.audit))

    async def wait_for(self, kind: str, count: int = 1, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while sum(e.kind == kind for e in await self.audit()) < count:
            assert time.monotonic() < deadline, f"no {kind!r} gate event in time"
            await asyncio.sleep(0.05)

    async def decide(self, **fields: Any) -> str:
        decision = GateDecision.model_validate(fields)
        return await self.handle.execute_update(ReleaseWorkflow.decide, decision)

    async def refused(self, **fields: Any) -> ApplicationError:
        with pytest.raises(WorkflowUpdateFailedError) as error:
            await self.decide(**fields)
        cause = error.value.cause
        assert isinstance(cause, ApplicationError)
        return cause


async def start(
    env: WorkflowEnvironment, plan: ReleasePlan, provider: FakeProvider | None = None
) -> AsyncIterator[Running]:
    provider = provider or FakeProvider()
    regions = [region.name for region in plan.deploy.regions]
    async with serving(env.client, lambda p, e: provider, regions) as queue:
        handle = await env.client.start_workflow(
            ReleaseWorkflow.run, plan, id=f"release/hello/prod/{uuid.uuid4()}", task_queue=queue
        )
        yield Running(env, provider, handle)


def running(env: WorkflowEnvironment, plan: ReleasePlan) -> Any:
    import contextlib

    return contextlib.asynccontextmanager(start)(env, plan)


GO_LIVE = {"at": "before-environment", "approvers": ["release-managers"]}


async def test_timeout_rejects_and_nothing_is_deployed(
    time_skipping: WorkflowEnvironment, repo_root: Path
) -> None:
    plan = gated_plan(repo_root, {"go-live": {**GO_LIVE, "timeout": "1h"}})
    async with running(time_skipping, plan) as release:
        await release.wait_for("opened")
        result = await release.handle.result()
        assert result.status == "rejected"
        assert result.error == "gate go-live timed out"
        assert release.provider.starts == 0, "nothing deployed after a rejected gate"
        assert [e.kind for e in await release.audit()] == ["opened", "timed-out"]


async def test_timeout_approves_when_the_policy_says_so(
    time_skipping: WorkflowEnvironment, repo_root: Path
) -> None:
    gate = {**GO_LIVE, "timeout": "30m", "on-timeout": "approve"}
    plan = gated_plan(repo_root, {"go-live": gate})
    async with running(time_skipping, plan) as release:
        result = await release.handle.result()
        assert result.status == "succeeded"
        events = await release.audit()
        assert [e.kind for e in events] == ["opened", "approved"]
        assert events[1].user == "ferryman" and "approved by policy" in events[1].detail


async def test_escalation_asks_a_second_group_and_waits_again(
    time_skipping: WorkflowEnvironment, repo_root: Path
) -> None:
    gate = {**GO_LIVE, "timeout": "1h", "on-timeout": "escalate", "escalate-to": ["sre"]}
    plan = gated_plan(repo_root, {"go-live": gate})
    async with running(time_skipping, plan) as release:
        await release.wait_for("opened")
        refused = await release.refused(user="dave")
        assert refused.type == "gate-forbidden"
        await time_skipping.sleep(timedelta(hours=1, minutes=1))
        await release.wait_for("escalated")
        views = await release.handle.query(ReleaseWorkflow.gates)
        assert views[0].escalated and "dave" in views[0].may_decide
        answer = await release.decide(user="dave", comment="sre on call says go")
        assert answer.endswith("gate go-live: approved by dave")
        assert (await release.handle.result()).status == "succeeded"
        kinds = [e.kind for e in await release.audit()]
        assert kinds == ["opened", "escalated", "approved"]


async def test_n_of_m_approvals_then_the_release_continues_and_refusals_leave_no_history(
    time_skipping: WorkflowEnvironment, repo_root: Path
) -> None:
    gate = {**GO_LIVE, "required": 2, "inputs": {"ticket": {"pattern": "CHG-[0-9]+"}}}
    plan = gated_plan(repo_root, {"go-live": gate})
    async with running(time_skipping, plan) as release:
        await release.wait_for("opened")
        assert (await release.handle.describe()).search_attributes.get("FerrymanPhase") == [
            "awaiting-approval"
        ]
        own = await release.refused(user="alice", comment="self-approval-attempt")
        assert own.type == "gate-forbidden" and "separation of duties" in own.message
        stranger = await release.refused(user="mallory")
        assert stranger.message.startswith("mallory may not decide gate go-live")
        bad_input = await release.refused(user="bob", inputs={"ticket": "chg-1"})
        assert bad_input.type == "gate-invalid"
        first = await release.decide(user="bob", comment="ok by me", inputs={"ticket": "CHG-7"})
        assert first.endswith("1 of 2 approval(s) (bob)")
        twice = await release.refused(user="bob")
        assert twice.type == "gate-conflict"
        await release.decide(user="carol", comment="dashboards green", channel="http")
        result = await release.handle.result()
        assert result.status == "succeeded"
        assert release.provider.routes[("eu-1", "web")].weights == {"v1": 100}
        events = await release.audit()
        assert [(e.kind, e.user) for e in events] == [
            ("opened", "ferryman"),
            ("approved", "bob"),
            ("approved", "carol"),
        ]
        assert events[1].inputs == {"ticket": "CHG-7"} and events[2].channel == "http"
        history = await release.handle.fetch_history()
        accepted = [
            e
            for e in history.events
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
        ]
        assert len(accepted) == 2, "only the two accepted decisions reached the history"
        raw = b"".join(e.SerializeToString() for e in history.events)
        for refused_mark in (b"self-approval-attempt", b"mallory", b"chg-1"):
            assert refused_mark not in raw
        assert b"dashboards green" in raw and b"ok by me" in raw


async def test_a_rejection_after_wave_one_restores_it_and_ends_the_release(
    time_skipping: WorkflowEnvironment, repo_root: Path
) -> None:
    provider = FakeProvider()
    first = gated_plan(repo_root, {}, "v1", regions=("us", "eu"))
    async with running(time_skipping, first) as release:
        assert (await release.handle.result()).status == "succeeded"
        provider = release.provider
    gate = {"at": "after-wave 1", "approvers": ["bob"]}
    second = gated_plan(repo_root, {"check-us": gate}, "v2", regions=("us", "eu"))
    async with contextlib_start(time_skipping, second, provider) as release:
        await release.wait_for("opened")
        assert provider.routes[("us", "web")].weights == {"v2": 100}
        answer = await release.decide(user="bob", verdict="reject", comment="errors up in us")
        assert "rejected by bob: errors up in us" in answer
        result = await release.handle.result()
        assert result.status == "rejected"
        assert provider.routes[("us", "web")].weights == {"v1": 100}, "wave 1 restored"
        assert provider.routes[("eu", "web")].weights == {"v1": 100}, "wave 2 never touched"
        progress = await release.handle.query(ReleaseWorkflow.progress)
        assert progress.phase == "rejected"


def contextlib_start(env: WorkflowEnvironment, plan: ReleasePlan, provider: FakeProvider) -> Any:
    import contextlib

    return contextlib.asynccontextmanager(start)(env, plan, provider)


BLUE_GREEN = {"blue-green": {"auto-promote": False, "scale-down-delay-seconds": 0}}


async def test_a_held_promotion_is_a_gate_under_the_promotion_policy(
    time_skipping: WorkflowEnvironment, repo_root: Path
) -> None:
    gate = {"at": "promotion", "approvers": ["bob", "carol"], "required": 1}
    plan = gated_plan(repo_root, {"promote": gate}, strategy=BLUE_GREEN)
    async with running(time_skipping, plan) as release:
        region = time_skipping.client.get_workflow_handle_for(
            RegionDeployWorkflow.run, region_deploy_id(release.handle.id, "eu-1")
        )
        deadline = time.monotonic() + 60
        while not [e for e in await _region_audit(region) if e.kind == "opened"]:
            assert time.monotonic() < deadline, "the promotion gate never opened"
            await asyncio.sleep(0.05)
        described = await region.describe()
        assert described.search_attributes.get("FerrymanPhase") == ["awaiting-approval"]
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await region.execute_update(
                RegionDeployWorkflow.decide, GateDecision(user="dave", verdict="approve")
            )
        assert "dave may not decide gate promote" in str(refused.value.cause)
        answer = await region.execute_update(
            RegionDeployWorkflow.decide, GateDecision(user="carol", comment="preview fine")
        )
        assert answer.endswith("gate promote: approved by carol")
        assert (await release.handle.result()).status == "succeeded"
        events = await _region_audit(region)
        assert [(e.kind, e.user, e.region) for e in events] == [
            ("opened", "ferryman", "eu-1"),
            ("approved", "carol", "eu-1"),
        ]


async def test_a_rejected_promotion_ends_the_release_rejected(
    time_skipping: WorkflowEnvironment, repo_root: Path
) -> None:
    gate = {"at": "promotion", "approvers": ["bob"]}
    plan = gated_plan(repo_root, {"promote": gate}, strategy=BLUE_GREEN)
    async with running(time_skipping, plan) as release:
        region = time_skipping.client.get_workflow_handle_for(
            RegionDeployWorkflow.run, region_deploy_id(release.handle.id, "eu-1")
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                await region.execute_update(
                    RegionDeployWorkflow.decide,
                    GateDecision(user="bob", verdict="reject", comment="preview broken"),
                )
                break
            except Exception:
                assert time.monotonic() < deadline, "the promotion gate never took a decision"
                await asyncio.sleep(0.1)
        result = await release.handle.result()
        assert result.status == "rejected"
        assert "gate promote rejected by bob: preview broken" in result.error
        assert ("eu-1", "web") not in release.provider.routes, "never routed to v1"
        assert not release.provider.instances, "the region put itself back: v1 retired"


async def _region_audit(handle: Any) -> list[AuditEvent]:
    try:
        return list(await handle.query(RegionDeployWorkflow.audit))
    except Exception:
        return []
