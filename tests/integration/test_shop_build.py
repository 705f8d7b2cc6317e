"""The shop example built for real on the Temporal dev server.

Real git repositories, real steps, real zipapps: all nodes build, a second build
is all cache hits (no step runs: no new step logs), a change to the lib rebuilds
the lib and the four service legs but not the UI, a change that leaves the lib's
outputs identical rebuilds only the lib, every artifact verifies, a tampered one
does not, and the services really run from their artifacts.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
import zipfile
from pathlib import Path

import httpx
import pytest
import typer
from temporalio.client import Client
from typer.testing import CliRunner, Result

from ferryman import paths
from ferryman.build.artifacts import ArtifactStore
from ferryman.build.logs import step_log_path
from ferryman.build.provenance import ProvenanceStore
from ferryman.cli.app import app
from ferryman.cli.commands import register_all
from ferryman.demo import prepare_example
from ferryman.plan.compile import compile_build, compile_plan
from ferryman.providers.base import Provider
from ferryman.spec.load import load_spec
from ferryman.temporal.models.build import BuildRequest, BuildResult
from ferryman.temporal.workflows.build import BuildWorkflow
from ferryman.testing import free_port
from ferryman.testing.workers import serving

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ALL = {
    "lib",
    "catalog:linux-amd64",
    "catalog:linux-arm64",
    "checkout:linux-amd64",
    "checkout:linux-arm64",
    "ui",
}


async def _build(client: Client, spec: Path) -> BuildResult:
    run_id = f"build/shop/{uuid.uuid4()}"
    async with serving(client, no_providers) as queue:
        return await client.execute_workflow(
            BuildWorkflow.run,
            BuildRequest(run_id=run_id, plan=compile_build(load_spec(spec), spec)),
            id=run_id,
            task_queue=queue,
        )


def no_providers(platform: str, environment: str) -> Provider:
    raise KeyError(platform)


def _built(result: BuildResult) -> set[str]:
    """Nodes whose steps really ran in this build: they left step logs."""
    ran = {
        node
        for node in result.nodes
        if step_log_path(paths.logs_dir(), result.run_id, node, 0, "any").parent.is_dir()
    }
    assert ran == {nid for nid, node in result.nodes.items() if not node.cached}
    return ran


def _commit(repo: Path, file: str, text: str) -> None:
    (repo / file).write_text(text)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid"]
    subprocess.run([*git, "commit", "-qam", f"change {file}"], cwd=repo, check=True)


def _cli(*args: str) -> Result:
    register_all()
    group = typer.Typer()
    group.callback()(lambda: None)
    group.registered_commands.extend(app.registered_commands)
    return CliRunner().invoke(group, list(args))


async def test_shop_builds_caches_rebuilds_only_what_changed_and_verifies(
    dev_client: Client, ferryman_home: Path, tmp_path: Path
) -> None:
    spec = prepare_example(EXAMPLES / "shop", tmp_path / "shop")
    first = await _build(dev_client, spec)
    assert first.succeeded, {n.id: n.error for n in first.nodes.values()}
    assert set(first.nodes) == ALL
    assert _built(first) == ALL

    second = await _build(dev_client, spec)
    assert second.succeeded
    assert _built(second) == set()
    assert set(second.nodes) == ALL and all(node.cached for node in second.nodes.values())
    assert {n: r.artifact.digest for n, r in second.nodes.items() if r.artifact} == {
        n: r.artifact.digest for n, r in first.nodes.items() if r.artifact
    }

    repos = spec.parent / "repos"
    _commit(
        repos / "lib",
        "test_shoplib.py",
        (repos / "lib" / "test_shoplib.py").read_text() + "\n# note\n",
    )
    third = await _build(dev_client, spec)
    assert _built(third) == {"lib"}  # same lib outputs: nothing downstream rebuilds

    shoplib = repos / "lib" / "shoplib.py"
    _commit(repos / "lib", "shoplib.py", shoplib.read_text() + "\nEDITION = 2\n")
    fourth = await _build(dev_client, spec)
    assert _built(fourth) == ALL - {"ui"}

    store = ProvenanceStore(ArtifactStore(paths.artifacts_dir()), paths.home() / "keys")
    for node in fourth.nodes.values():
        assert node.artifact is not None
        assert store.verify(node.artifact.digest) == []
        result = _cli("verify", node.artifact.digest)
        assert result.exit_code == 0, result.output

    catalog = fourth.nodes["catalog:linux-arm64"].artifact
    assert catalog is not None
    statement = store.load(catalog.digest)
    definition = statement["predicate"]["buildDefinition"]
    assert definition["externalParameters"]["matrix"] == {"platform": "linux/arm64"}
    lib_digest = fourth.nodes["lib"].artifact.digest  # type: ignore[union-attr]
    assert {
        "name": "lib",
        "uri": "ferryman:artifact/lib",
        "digest": {"sha256": lib_digest[7:]},
    } in (definition["resolvedDependencies"])
    assert statement["predicate"]["runDetails"]["metadata"]["invocationId"].startswith(
        fourth.run_id
    )

    # A tampered lib blob breaks the lib and, through the chain, every service leg.
    lib_file = ArtifactStore(paths.artifacts_dir()).bundle(lib_digest).files["dist/shoplib.py"]
    blob = paths.artifacts_dir() / "blobs" / "sha256" / lib_file.digest[7:]
    blob.chmod(0o644)
    blob.write_text("print('owned')\n")
    result = _cli("verify", catalog.digest)
    assert result.exit_code != 0
    assert "corrupt" in result.output


def _serve_and_ask(unpacked: Path) -> dict[str, dict[str, object]]:
    """Run the catalog zipapp from its artifact and ask it /, /buy and /metrics."""
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "FERRYMAN_VERSION": "v9",
        "FERRYMAN_ZONE": "a",
        "SHOP_CONVERSION_RATE": "1",
    }
    server = subprocess.Popen([sys.executable, "dist/catalog.pyz"], cwd=unpacked, env=env)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url)
        return {
            "/": httpx.get(url + "/").json(),
            "/buy": httpx.get(url + "/buy").json(),
            "/metrics": {"text": httpx.get(url + "/metrics").text},
        }
    finally:
        server.terminate()
        server.wait(timeout=10)


def _wait_healthy(url: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(f"{url} never became healthy")


async def test_release_runs_the_local_platform_leg_and_it_serves(
    dev_client: Client, ferryman_home: Path, tmp_path: Path
) -> None:
    spec_file = prepare_example(EXAMPLES / "shop", tmp_path / "shop")
    spec = load_spec(spec_file)
    assert (
        compile_plan(spec, spec_file, "dev", platform="linux/arm64")
        .deploy.services[0]
        .artifact_node
        == "catalog:linux-arm64"
    )
    plan = compile_plan(spec, spec_file, "dev", platform="linux/amd64")
    chosen = {service.name: service.artifact_node for service in plan.deploy.services}
    assert chosen == {"catalog": "catalog:linux-amd64", "checkout": "checkout:linux-amd64"}

    result = await _build(dev_client, spec_file)
    artifact = result.nodes[chosen["catalog"]].artifact
    assert artifact is not None
    unpacked = ArtifactStore(paths.artifacts_dir()).materialize(artifact.digest, tmp_path / "run")
    with zipfile.ZipFile(unpacked / "dist" / "catalog.pyz") as archive:
        assert archive.read("PLATFORM").decode().strip() == "linux/amd64"
    answers = await asyncio.to_thread(_serve_and_ask, unpacked)
    assert answers["/"] == {
        "service": "catalog",
        "version": "v9",
        "zone": "a",
        "platform": "linux/amd64",
    }
    assert answers["/buy"]["converted"] is True
    assert 'shop_conversions_total{service="catalog"} 1' in str(answers["/metrics"]["text"])
    assert 'shop_requests_total{service="catalog",code="200"} 2' in str(answers["/metrics"]["text"])
    assert (
        json.loads((unpacked / "dist" / "config" / "behaviour.json").read_text())["error_rate"]
        == 0.0
    )
