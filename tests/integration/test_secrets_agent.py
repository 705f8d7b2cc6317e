"""The local agent and secrets: instances get them, nothing the agent tells shows them.

A real agent process and real instance processes, each answering with a hash of
the secret it was started with (the ground truth that the value arrived).
"""

from __future__ import annotations

import hashlib
import os
import signal
import sys
from pathlib import Path

import httpx
import pytest

from ferryman.errors import ProviderError
from ferryman.platform.models import InstanceRequest
from ferryman.platform.secrets import SecretSource
from ferryman.providers.local import LocalProvider
from ferryman.testing import AgentProcess
from ferryman.testing.waiting import eventually

pytestmark = pytest.mark.integration

SERVER = """\
import hashlib, http.server, os
secret = hashlib.sha256(os.environ.get("DB_PASSWORD", "").encode()).hexdigest()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = secret.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"""


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def request(tmp_path: Path) -> InstanceRequest:
    app = tmp_path / "app"
    app.mkdir(exist_ok=True)
    (app / "server.py").write_text(SERVER)
    return InstanceRequest(
        region="local-1",
        zone="a",
        service="db-user",
        version="v1",
        artifact_dir=str(app),
        command=f"exec {sys.executable} server.py",
        env={"MODE": "test"},
        secrets={"DB_PASSWORD": SecretSource(env="SHOP_DB_PASSWORD")},
        health_path="/",
    )


async def answers(port: int) -> str:
    async with httpx.AsyncClient(timeout=2) as http:
        try:
            return (await http.get(f"http://127.0.0.1:{port}/")).text
        except httpx.HTTPError:
            return ""


async def test_an_instance_gets_its_secret_which_no_answer_or_event_shows(
    agent: AgentProcess, tmp_path: Path
) -> None:
    provider = LocalProvider(agent.url, environment="dev")
    value = "pw-" + os.urandom(8).hex()
    wanted = request(tmp_path)
    with pytest.raises(ProviderError, match="no value for secret"):
        await provider.prepare("p0", wanted)

    (instance,) = await provider.prepare("p1", wanted, {"DB_PASSWORD": value})
    assert await eventually(lambda: answers(instance.port), what="an answer") == sha(value)

    # A retried call with a rotated value is the same call, not a conflict.
    (again,) = await provider.prepare("p1", wanted, {"DB_PASSWORD": "rotated"})
    assert again.id == instance.id

    # The supervisor restarts a dead instance with its secret.
    assert instance.pid is not None
    os.kill(instance.pid, signal.SIGKILL)

    async def restarted() -> str:
        (now,) = [i for i in await provider.instances() if i.id == instance.id]
        return await answers(now.port) if now.pid not in (None, instance.pid) else ""

    assert await eventually(restarted, what="the restarted instance's answer") == sha(value)

    state = await provider.current_state("local-1", "db-user")
    launch = state.launches["v1"]
    assert launch.secrets == {"DB_PASSWORD": SecretSource(env="SHOP_DB_PASSWORD")}
    assert launch.env == {"MODE": "test"}
    told = [
        state.model_dump_json(),
        *(e.model_dump_json() for e in await provider.events()),
        *(i.model_dump_json() for i in await provider.instances()),
    ]
    assert any("instance.restarted" in text for text in told)
    assert not [text for text in told if value in text]
