"""ferryman as a library (``import ferryman``): plan, start, follow, decide, on the dev server.

The platform is the in-memory provider: these tests pin the public API's
behaviour; the releases it starts are the ones the CLI starts.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import Client

import ferryman
from ferryman.plan.models import GatePlan
from ferryman.testing.fake_provider import FakeProvider
from ferryman.testing.workers import serving

pytestmark = pytest.mark.integration


async def test_start_follow_and_decide_a_gate_through_the_public_api(
    dev_client: Client, hello_spec: Path
) -> None:
    provider = FakeProvider()
    plan = ferryman.plan_release(hello_spec.parent, "dev", version="v1", requested_by="erin")
    gate = GatePlan(name="go-live", at="before-environment")
    gated = plan.model_copy(update={"deploy": plan.deploy.model_copy(update={"gates": (gate,)})})
    async with serving(dev_client, lambda p, e: provider, ["local-1"]) as queue:
        handle = await ferryman.start_release(dev_client, gated, task_queue=queue)
        assert handle.id.startswith("release/hello/dev/")
        phases: list[str] = []
        async for progress in ferryman.follow_release(dev_client, handle.id, interval=0.1):
            if not phases or phases[-1] != progress.phase:
                phases.append(progress.phase)
            if progress.phase == "awaiting-approval":
                with pytest.raises(ferryman.GateRefused) as refused:
                    await ferryman.decide_gate(dev_client, handle.id, user="erin", gate="nope")
                assert refused.value.kind in ("not-found", "invalid", "conflict")
                answer = await ferryman.decide_gate(
                    dev_client, handle.id, user="finn", comment="looks good"
                )
                assert "approved" in answer
        result: ferryman.ReleaseResult = await handle.result()
    assert result.status == "succeeded" and result.schema_version == 1
    assert phases[-1] == "done"
    assert phases.index("awaiting-approval") < phases.index("deploy")
    assert provider.routes[("local-1", "web")].weights == {"v1": 100}


async def test_start_release_compiles_a_spec_file(dev_client: Client, hello_spec: Path) -> None:
    provider = FakeProvider()
    async with serving(dev_client, lambda p, e: provider, ["local-1"]) as queue:
        handle = await ferryman.start_release(
            dev_client, hello_spec, "dev", version="v7", task_queue=queue
        )
        result = await handle.result()
    assert (result.status, result.version) == ("succeeded", "v7")
    progress, source = await ferryman.release_progress(dev_client, handle.id)
    assert progress is not None and progress.phase == "done" and source in ("worker", "server")


def test_planning_from_a_spec_needs_an_environment(hello_spec: Path) -> None:
    with pytest.raises(ferryman.PlanError, match="an environment is needed"):
        ferryman.plan_release(hello_spec)
    spec = ferryman.load_spec(hello_spec)
    plan = ferryman.plan_release(spec, "dev", spec_path=hello_spec, version="v1")
    assert plan.system == "hello" and plan.version == "v1"
    assert ferryman.plan_release(plan) is plan
