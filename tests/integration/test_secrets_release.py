"""Secrets and the payload codec end to end, read back from Temporal's raw history.

A real dev server, the real agent and real instance processes. The hello app,
changed so its build step hashes a secret into the artifact and the service
answers with a hash of its own secret: the hashes the router answers with are
the ground truth that each secret reached its process. ferryman's config turns
the AES-GCM codec on, so ``connect`` encrypts; the ``temporal`` CLI then prints
each workflow's history as the server stores it, where neither secret nor even
the secret's *reference* may appear, while the same payloads, decrypted with
the config's key, show the reference (so the search can find what is there),
and so does the CLI through ``ferryman server``'s codec endpoint. Then the key
rotates: the release written under ``k1`` still reads once ``k2`` is active,
and no longer once ``k1`` is dropped.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from temporalio.api.common.v1 import Payload
from temporalio.client import Client

from ferryman.demo import prepare_example
from ferryman.devstack.stack import temporal_binary
from ferryman.identity.config import IdentityError
from ferryman.identity.encryption import configured_keys
from ferryman.identity.tokens import hash_token, new_token
from ferryman.providers.local import LocalProvider
from ferryman.server.app import create_app
from ferryman.server.context import ServerSettings
from ferryman.temporal.activities.analysis import MetricSources
from ferryman.temporal.client.connection import Connection, connect
from ferryman.temporal.client.releases import release_progress
from ferryman.temporal.codec import ENCODING, KEY_ID, AESGCMCodec, CodecError
from ferryman.temporal.converter import codec_for
from ferryman.temporal.worker.workers import local_providers
from ferryman.temporal.workflows.release import ReleaseWorkflow
from ferryman.testing import AgentProcess, TemporalDevServer, free_port
from ferryman.testing.workers import serving

from .conftest import EXAMPLES
from .release_helpers import plan_on, served

pytestmark = pytest.mark.integration

SERVICE_VAR = "FERRYMAN_TEST_GREETING_KEY"
"""The worker's variable the service's secret is read from: the reference, not a secret."""

SPEC = f"""\
system: hello
repos:
  hello:
    source: ./app
    build:
      steps:
        - name: package
          run: |
            mkdir -p dist
            cp server.py greeting.txt dist/
            echo "building with $BUILD_TOKEN"
            printf '%s' "$BUILD_TOKEN" | sha256sum | cut -d' ' -f1 > dist/build_token.sha
          secrets: {{BUILD_TOKEN: {{file: build-token.txt}}}}
    outputs: ["dist/**"]
services:
  web:
    artifact: hello
    run: python3 dist/server.py
    secrets: {{GREETING_KEY: {{env: {SERVICE_VAR}}}}}
    health: {{path: /healthz, timeout-seconds: 20}}
environments:
  dev:
    regions:
      local-1: {{zones: [a]}}
"""

ANSWER = """        "zone": os.environ.get("FERRYMAN_ZONE", "-"),
"""
ANSWER_WITH_HASHES = """        "zone": os.environ.get("FERRYMAN_ZONE", "-"),
        "secret_sha": __import__("hashlib").sha256(
            os.environ.get("GREETING_KEY", "").encode()
        ).hexdigest(),
        "build_sha": (Path(__file__).parent / "build_token.sha").read_text().strip(),
"""


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def secret_spec(tmp_path: Path) -> Path:
    """The hello example whose build and service each use a secret."""
    source = tmp_path / "source"
    shutil.copytree(EXAMPLES / "hello", source, ignore=shutil.ignore_patterns(".git"))
    server = source / "app" / "server.py"
    text = server.read_text()
    assert ANSWER in text
    server.write_text(text.replace(ANSWER, ANSWER_WITH_HASHES))
    (source / "ferryman.yaml").write_text(SPEC)
    return prepare_example(source, tmp_path / "hello")


TOKEN = new_token()
"""The token of ``alice``, the config's one user."""


@pytest.fixture
def encrypting_config(ferryman_home: Path) -> Iterator[Path]:
    """ferryman's config with a user and an ``encryption:`` section (key ``k1`` in a file)."""
    keys = ferryman_home / "keys"
    keys.mkdir()
    (keys / "k1.key").write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
    config = ferryman_home / "config.yaml"
    config.write_text(
        f"users:\n  alice: {{token: '{hash_token(TOKEN)}'}}\n"
        "encryption:\n  active: k1\n  keys:\n    k1: {file: keys/k1.key}\n"
    )
    yield config


def write_keys(config: Path, active: str, listed: tuple[str, ...]) -> None:
    """Rewrite the config's ``encryption:`` (a key file made for each new id)."""
    keys = config.parent / "keys"
    for key_id in listed:
        if not (keys / f"{key_id}.key").exists():
            (keys / f"{key_id}.key").write_text(base64.b64encode(os.urandom(32)).decode())
    entries = "".join(f"    {key_id}: {{file: keys/{key_id}.key}}\n" for key_id in listed)
    config.write_text(
        f"users:\n  alice: {{token: '{hash_token(TOKEN)}'}}\n"
        f"encryption:\n  active: {active}\n  keys:\n{entries}"
    )


@contextlib.contextmanager
def ferryman_server(config: Path, state: Path) -> Iterator[str]:
    """``ferryman server``'s app on a free port, in a thread; yields its URL."""
    port = free_port()
    settings = ServerSettings(config=config, state_dir=state, session_secret="s")
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def payloads_in(node: Any, search_attributes: bool = False) -> Iterator[dict[str, Any]]:
    """Every ``{"metadata": …, "data": …}`` object of a JSON history.

    Args:
        node: The history, or a part of it.
        search_attributes: Those under ``searchAttributes`` (which no codec touches)
            instead of every other. Patch markers (``patch-data``: the patch's id,
            written by the SDK's core without the codec) are neither.
    """
    if isinstance(node, dict):
        if isinstance(node.get("metadata"), dict) and not search_attributes:
            yield node
        for key, value in node.items():
            if key == "patch-data":  # the SDK's own marker: a patch id, never a codec's
                continue
            if key == "searchAttributes":
                yield from payloads_in(value, False) if search_attributes else ()
            else:
                yield from payloads_in(value, search_attributes)
    elif isinstance(node, list):
        for value in node:
            yield from payloads_in(value, search_attributes)


def unb64(text: object) -> bytes:
    if not isinstance(text, str):
        return json.dumps(text).encode()
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return text.encode()


def raw_history(address: str, workflow_id: str, *codec: str) -> str:
    """The history as the server stores it, from the ``temporal`` CLI (no codec unless given)."""
    shown = subprocess.run(
        [temporal_binary(), "workflow", "show", "--workflow-id", workflow_id,
         "--address", address, "--output", "json", *codec],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return shown.stdout


async def test_secrets_reach_their_processes_and_history_holds_only_ciphertext(
    dev_server: TemporalDevServer,
    agent: AgentProcess,
    secret_spec: Path,
    encrypting_config: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service_secret = f"svc-{uuid.uuid4().hex}"
    build_secret = f"bld-{uuid.uuid4().hex}"
    monkeypatch.setenv(SERVICE_VAR, service_secret)
    (secret_spec.parent / "build-token.txt").write_text(build_secret + "\n")

    client: Client = await connect(Connection(dev_server.address), wait_s=10)
    assert isinstance(client.data_converter.payload_codec, AESGCMCodec)
    plan = plan_on(secret_spec, "dev")
    assert service_secret not in plan.model_dump_json()
    release_id = f"release/hello/dev/{uuid.uuid4()}"
    async with serving(
        client, local_providers(agent.url), ["local-1"], metrics=MetricSources(agent.url)
    ) as queue:
        result = await client.execute_workflow(
            ReleaseWorkflow.run, plan, id=release_id, task_queue=queue
        )
    assert result.status == "succeeded"

    # Ground truth: what the instance process answers through the router.
    answers = served(result.router_urls["local-1"], requests=4)
    assert {a["secret_sha"] for a in answers} == {sha(service_secret)}
    assert {a["build_sha"] for a in answers} == {sha(build_secret)}

    # The platform neither records nor reports the value.
    provider = LocalProvider(agent.url, environment="dev")
    events = " ".join(e.model_dump_json() for e in await provider.events())
    assert "instance.started" in events and service_secret not in events
    state = await provider.current_state("local-1", "web")
    launch = state.launches[result.version]
    assert set(launch.secrets) == {"GREETING_KEY"} and service_secret not in state.model_dump_json()

    # The build log shows the step ran with its secret, masked.
    logs = "".join(p.read_text() for p in (encrypting_config.parent / "logs").rglob("*.log"))
    assert "building with ***" in logs and build_secret not in logs

    # The raw histories: ciphertext only, and the secrets in no form.
    ids = [w.id async for w in client.list_workflows() if w.id.startswith(release_id)]
    assert {release_id, f"{release_id}/build", f"{release_id}/region/local-1"} <= set(ids)
    keys = configured_keys(encrypting_config)
    assert keys is not None
    codec = codec_for(keys)
    decoded_texts = []
    for workflow_id in ids:
        raw = raw_history(dev_server.address, workflow_id)
        payloads = list(payloads_in(json.loads(raw)))
        assert payloads, workflow_id
        # Search attributes stay plain, so visibility can filter on them.
        indexed = list(payloads_in(json.loads(raw), search_attributes=True))
        if workflow_id == release_id:
            assert b'"hello"' in [unb64(p.get("data", "")) for p in indexed]
        stored = b"\n".join([raw.encode(), *(unb64(p.get("data", "")) for p in payloads)])
        for secret in (service_secret, build_secret):
            assert secret.encode() not in stored
            assert base64.b64encode(secret.encode()) not in stored
        assert SERVICE_VAR.encode() not in stored, "the plan's secret reference is encrypted too"
        for entry in payloads:
            metadata = {k: unb64(v) for k, v in entry["metadata"].items()}
            assert metadata.get("encoding") == ENCODING, (workflow_id, metadata)
            (plain,) = await codec.decode(
                [Payload(metadata=metadata, data=unb64(entry.get("data", "")))]
            )
            decoded_texts.append(plain.data.decode())
    decoded = "\n".join(decoded_texts)
    # What was encrypted is there once decrypted: the search can find things...
    assert SERVICE_VAR in decoded and plan.system in decoded
    # ...and the secrets' values never were in any payload at all.
    assert service_secret not in decoded and build_secret not in decoded

    # The temporal CLI, like the Web UI, decodes through ferryman server's codec endpoint.
    with ferryman_server(encrypting_config, encrypting_config.parent / "server") as url:
        endpoint = ["--codec-endpoint", f"{url}/codec"]
        shown = raw_history(
            dev_server.address, release_id, *endpoint, "--codec-auth", f"Bearer {TOKEN}"
        )
        through = [unb64(p.get("data", "")) for p in payloads_in(json.loads(shown))]
        assert any(SERVICE_VAR.encode() in data for data in through)
        assert not [data for data in through if service_secret.encode() in data]

    # Rotation: k2 becomes active, k1 stays listed; the release written under k1
    # still reads (its memo, with no worker running), and new payloads use k2.
    write_keys(encrypting_config, "k2", ("k1", "k2"))
    rotated = await connect(Connection(dev_server.address), wait_s=10)
    progress, source = await release_progress(rotated, release_id, timedelta(seconds=1))
    assert source == "server" and progress is not None
    (sealed,) = await rotated.data_converter.encode(["x"])
    assert sealed.metadata[KEY_ID] == b"k2"
    write_keys(encrypting_config, "k2", ("k2",))
    without_k1 = await connect(Connection(dev_server.address), wait_s=10)
    with pytest.raises(CodecError, match=r"key 'k1', which the config's encryption\.keys"):
        await release_progress(without_k1, release_id, timedelta(seconds=1))


async def test_a_key_that_cannot_be_read_stops_connect_with_one_line(
    dev_server: TemporalDevServer, ferryman_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FERRYMAN_TEST_MISSING_KEY", raising=False)
    (ferryman_home / "config.yaml").write_text(
        "encryption:\n  active: k1\n  keys:\n    k1: {env: FERRYMAN_TEST_MISSING_KEY}\n"
    )
    with pytest.raises(IdentityError, match="FERRYMAN_TEST_MISSING_KEY is not set"):
        await connect(Connection(dev_server.address))
