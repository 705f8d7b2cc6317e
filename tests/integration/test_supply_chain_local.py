"""Supply chain at deploy, end to end: a tampered artifact never starts; what runs is traceable.

Real Temporal dev server, real builds with signed provenance, the real agent and
its instance processes, real HTTP through the region's router, the real CLI.
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from typer.testing import CliRunner, Result

from ferryman import paths
from ferryman.build.artifacts import ArtifactStore
from ferryman.build.provenance import ProvenanceStore
from ferryman.cli.app import _register, app
from ferryman.plan.compile import compile_build
from ferryman.providers.base import Provider
from ferryman.providers.local import LocalProvider
from ferryman.spec.load import load_spec
from ferryman.temporal.failures import failure_message
from ferryman.temporal.models.build import BuildRequest
from ferryman.temporal.workflows.build import BuildWorkflow
from ferryman.testing import AgentProcess
from ferryman.testing.workers import serving

from .release_helpers import commit_change, hello_plan, release, served

pytestmark = pytest.mark.integration


def _no_providers(platform: str, environment: str) -> Provider:
    raise KeyError(platform)


async def _build(client: Client, spec: Path) -> str:
    """Build the hello app as it is now; returns its artifact's digest."""
    run_id = f"build/hello/{uuid.uuid4()}"
    async with serving(client, _no_providers) as queue:
        result = await client.execute_workflow(
            BuildWorkflow.run,
            BuildRequest(run_id=run_id, plan=compile_build(load_spec(spec), spec)),
            id=run_id,
            task_queue=queue,
        )
    artifact = result.nodes["hello"].artifact
    assert artifact is not None
    return artifact.digest


def _tamper_statement(digest: str) -> None:
    """Change one byte of the signed statement (its source commit), keeping the signature."""
    path = ProvenanceStore(ArtifactStore(paths.artifacts_dir()), paths.home() / "keys").path(digest)
    envelope = json.loads(path.read_bytes())
    payload = bytearray(base64.b64decode(envelope["payload"]))
    at = payload.index(b'"commit":"') + len(b'"commit":"')
    payload[at] = ord("0") if payload[at] != ord("0") else ord("1")
    envelope["payload"] = base64.b64encode(bytes(payload)).decode()
    path.write_text(json.dumps(envelope))


async def _cli(agent: AgentProcess, *args: str) -> Result:
    _register()
    env = {"COLUMNS": "250", "FERRYMAN_AGENT_URL": agent.url}
    return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)


def _head(repo: Path) -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


async def test_a_tampered_artifact_is_refused_and_the_old_version_keeps_serving(
    dev_client: Client, agent: AgentProcess, hello_spec: Path, ferryman_home: Path
) -> None:
    first = await release(dev_client, agent.url, hello_plan(hello_spec, "v1"))
    assert first.status == "succeeded"
    url = first.router_urls["local-1"]
    provider = LocalProvider(agent.url, environment="dev")
    before = max(e.seq for e in await provider.events())

    commit_change(hello_spec.parent / "app", "hello, tampered edition")
    digest = await _build(dev_client, hello_spec)
    _tamper_statement(digest)
    with pytest.raises(WorkflowFailureError) as failure:
        await release(dev_client, agent.url, hello_plan(hello_spec, "v2"))
    reason = str(failure.value.cause)
    assert reason == (
        f"local-1: web v2 refused: artifact {digest[:19]}…: provenance statement "
        "does not match its signature (altered after signing)"
    )
    region = failure.value.cause
    while region is not None and not (
        isinstance(region, ApplicationError) and region.type == "ArtifactRejected"
    ):
        region = region.cause
    assert region is not None, "the region deploy failed with an ArtifactRejected error"
    assert failure_message(region) == reason

    started = await provider.events(kind="instance.started", since=before)
    assert started == [], "no instance of any version started"
    assert {i.version for i in await provider.instances() if i.state != "stopped"} == {"v1"}
    answers = served(url, requests=20)
    assert {a["version"] for a in answers} == {"v1"}
    assert {a["greeting"] for a in answers} == {"hello from ferryman"}


async def test_provenance_walks_from_a_running_instance_to_the_source_commit(
    dev_client: Client, agent: AgentProcess, hello_spec: Path, ferryman_home: Path
) -> None:
    commit = _head(hello_spec.parent / "app")
    result = await release(dev_client, agent.url, hello_plan(hello_spec, "v1"))
    assert result.status == "succeeded"
    running = [
        i
        for i in await LocalProvider(agent.url, environment="dev").instances()
        if i.state != "stopped"
    ]
    assert len(running) == 2 and len({i.artifact_digest for i in running}) == 1
    digest = running[0].artifact_digest
    assert digest.startswith("sha256:")

    by_instance = await _cli(agent, "provenance", "--instance", running[0].id)
    assert by_instance.exit_code == 0, by_instance.output
    assert f"instance {running[0].id}  dev/local-1 zone a  web v1" in by_instance.output
    assert f"artifact {digest}  hello" in by_instance.output
    assert "✓ digests, signed by sha256:" in by_instance.output
    assert f"commit {commit}" in by_instance.output

    by_service = await _cli(
        agent, "provenance", "--region", "local-1", "--service", "web", "--env", "dev"
    )
    assert by_service.exit_code == 0, by_service.output
    assert "2 instances of web v1 in dev/local-1 (zones a)" in by_service.output
    assert f"artifact {digest}  hello" in by_service.output

    raw = await _cli(agent, "provenance", "--region", "local-1", "--service", "web", "--json")
    assert raw.exit_code == 0, raw.output
    payload = json.loads(raw.output)
    assert payload["artifacts"] == [digest] and list(payload["statements"]) == [digest]

    for args, message in [
        (("--instance", "web-v9-a-000000"), "no instance 'web-v9-a-000000' on the agent"),
        (("--region", "mars-1", "--service", "web"), "no region 'mars-1' runs anything"),
        (("--region", "local-1", "--service", "api"), "no service 'api' runs in local-1"),
        (("--region", "local-1", "--service", "web", "--env", "prod"), "no region 'local-1'"),
    ]:
        refused = await _cli(agent, "provenance", *args)
        assert refused.exit_code == 1, refused.output
        assert message in refused.output
        assert len(refused.output.strip().splitlines()) == 1, refused.output

    _tamper_statement(digest)
    tampered = await _cli(agent, "provenance", "--instance", running[0].id)
    assert tampered.exit_code == 1
    assert "altered after signing" in tampered.output
