"""Levels 0–1 end to end: a real git repo built and deployed to the real local platform.

Real Temporal dev server, real agent process, real instance processes, real
HTTP through the region's router.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowFailureError

from ferryman.devstack.processes import pid_alive
from ferryman.providers.local import LocalProvider
from ferryman.testing import AgentProcess

from .release_helpers import commit_change, hello_plan, release, served, with_service

pytestmark = pytest.mark.integration


async def test_release_builds_deploys_and_switches_versions(
    dev_client: Client, agent: AgentProcess, hello_spec: Path, ferryman_home: Path
) -> None:
    first = await release(dev_client, agent.url, hello_plan(hello_spec))
    assert first.status == "succeeded"
    url = first.router_urls["local-1"]
    answers = served(url)
    assert {a["version"] for a in answers} == {first.version}
    assert {a["header_version"] for a in answers} == {first.version}
    assert {a["greeting"] for a in answers} == {"hello from ferryman"}
    provider = LocalProvider(agent.url, environment="dev")
    old_pids = [i.pid for i in await provider.instances() if i.version == first.version]
    assert len(old_pids) == 2 and all(pid and pid_alive(pid) for pid in old_pids)

    commit_change(hello_spec.parent / "app", "hello, second edition")
    second = await release(dev_client, agent.url, hello_plan(hello_spec))
    assert second.version != first.version
    answers = served(url)
    assert {a["version"] for a in answers} == {second.version}
    assert {a["greeting"] for a in answers} == {"hello, second edition"}
    assert not any(pid and pid_alive(pid) for pid in old_pids)
    state = await provider.current_state("local-1", "web")
    assert state.versions_by_zone == {"a": [second.version]}


async def test_release_of_the_live_version_changes_nothing(
    dev_client: Client, agent: AgentProcess, hello_spec: Path, ferryman_home: Path
) -> None:
    plan = hello_plan(hello_spec, version="v1")
    await release(dev_client, agent.url, plan)
    starts = [
        e
        for e in await LocalProvider(agent.url, environment="dev").events()
        if e.kind == "instance.started"
    ]
    again = await release(dev_client, agent.url, plan)
    assert again.status == "unchanged"
    after = [
        e
        for e in await LocalProvider(agent.url, environment="dev").events()
        if e.kind == "instance.started"
    ]
    assert len(after) == len(starts) == 2


async def test_unhealthy_version_is_retired_and_old_keeps_serving(
    dev_client: Client, agent: AgentProcess, hello_spec: Path, ferryman_home: Path
) -> None:
    good = await release(dev_client, agent.url, hello_plan(hello_spec, "good"))
    url = good.router_urls["local-1"]
    bad_plan = hello_plan(hello_spec, "bad")
    health = bad_plan.deploy.services[0].health.model_copy(update={"timeout_s": 2.0})
    bad_plan = with_service(bad_plan, command="exec sleep 600", health=health)
    with pytest.raises(WorkflowFailureError) as failure:
        await release(dev_client, agent.url, bad_plan)
    assert "0/2 instances healthy" in str(failure.value.cause)
    assert {a["version"] for a in served(url)} == {"good"}
    provider = LocalProvider(agent.url, environment="dev")
    bad = [i for i in await provider.instances() if i.version == "bad"]
    assert bad and all(i.state == "stopped" and not (i.pid and pid_alive(i.pid)) for i in bad)
