"""The local platform agent, for real: its own process, real instance processes, real routers.

Every test starts ``python -m ferryman.providers.local.agent`` on a temp state
dir and drives it through ``LocalProvider``. Instances run a tiny HTTP server
written into a temp artifact dir. Every process the test caused carries a
per-test marker in its environment, and is SIGKILLed afterwards whatever happened.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from ferryman.errors import AgentUnavailable, ProviderError
from ferryman.platform.models import Instance, InstanceRequest, RouteTable
from ferryman.providers.local import LocalProvider

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

MARKER = "FERRYMAN_LOCAL_AGENT_TEST"
REGION = "r1"
ZONE = "r1a"

SERVER = """\
import hashlib, http.server, os

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def _answer(self, body):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Seen-Host", self.headers.get("Host", ""))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/healthz":
            self._answer(b"ok")
        else:
            self._answer(os.environ["FERRYMAN_VERSION"].encode())

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self._answer(f"{len(body)} {hashlib.sha256(body).hexdigest()}".encode())

    def log_message(self, *args):
        pass

http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _environ(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return b""


def pid_alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def kill_marked(run_id: str) -> None:
    """SIGKILL the process group of every process carrying this test's marker."""
    marker = f"{MARKER}={run_id}".encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and marker in _environ(int(entry.name)).split(b"\0"):
            try:
                pgid = os.getpgid(int(entry.name))
                if pgid != os.getpgrp():
                    os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass


async def eventually(
    check: Callable[[], Awaitable[bool]], within: float = 10, what: str = "condition"
) -> None:
    """Poll ``check`` until it holds, failing after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.05)


@dataclass
class Agent:
    """The agent process under test, restartable on the same state dir and ports."""

    state_dir: Path
    run_id: str
    port: int = field(default_factory=_free_port)
    router_base_port: int = field(default_factory=_free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The agent's API."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        """The agent's stderr."""
        return self.state_dir.parent / "agent.log"

    def start(self, *extra: str) -> Agent:
        """Start the agent and wait for its ``listening`` line."""
        argv = [
            sys.executable, "-m", "ferryman.providers.local.agent",
            "--state-dir", str(self.state_dir), "--port", str(self.port),
            "--host", "127.0.0.1", "--router-base-port", str(self.router_base_port), *extra,
        ]  # fmt: skip
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                argv,
                stdout=subprocess.PIPE,
                stderr=log,
                env={**os.environ, MARKER: self.run_id},
                start_new_session=True,
            )
        line = self._first_line(timeout=20)
        assert line == f"ferryman-agent listening on {self.url}", self.log.read_text()
        return self

    def _first_line(self, timeout: float) -> str:
        assert self.process is not None and self.process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                pytest.fail(f"agent printed nothing in {timeout}s: {self.log.read_text()}")
        return self.process.stdout.readline().decode().strip()

    def signal(self, signum: signal.Signals) -> int:
        """Send a signal to the agent and wait for it to exit; returns its exit status."""
        assert self.process is not None
        os.kill(self.process.pid, signum)
        code = self.process.wait(timeout=20)
        assert self.process.stdout is not None
        self.process.stdout.close()
        self.process = None
        return code


@pytest.fixture
def local_agent(tmp_path: Path) -> Iterator[Agent]:
    """A running agent; it and every process it started are killed afterwards."""
    agent = Agent(state_dir=tmp_path / "state", run_id=uuid.uuid4().hex)
    try:
        yield agent.start()
    finally:
        if agent.process is not None:
            agent.process.kill()
            agent.process.wait()
            assert agent.process.stdout is not None
            agent.process.stdout.close()
        kill_marked(agent.run_id)


@pytest.fixture
def provider(local_agent: Agent) -> LocalProvider:
    """A client of the running agent."""
    return LocalProvider(local_agent.url, timeout=10)


def artifact(tmp_path: Path, name: str) -> Path:
    """A built artifact: the test server in its own directory."""
    directory = tmp_path / "artifacts" / name
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "server.py").write_text(SERVER)
    return directory


def request_for(
    tmp_path: Path, version: str, replicas: int = 2, service: str = "web", zone: str = ZONE
) -> InstanceRequest:
    """Instances of the test server as one version of a service."""
    return InstanceRequest(
        region=REGION,
        zone=zone,
        service=service,
        version=version,
        artifact_dir=str(artifact(tmp_path, f"{service}-{version}")),
        command=f"exec {sys.executable} server.py",
        replicas=replicas,
    )


async def ready(provider: LocalProvider, request: InstanceRequest) -> None:
    """Wait until every instance of a request answers its health check."""

    async def check() -> bool:
        report = await provider.health(
            request.region, request.zone, request.service, request.version
        )
        return report.ready

    await eventually(check, what=f"{request.service} {request.version} to be healthy")


async def deploy(
    provider: LocalProvider, tmp_path: Path, version: str, replicas: int = 2, service: str = "web"
) -> None:
    """Prepare a version and wait until it is healthy."""
    request = request_for(tmp_path, version, replicas, service)
    await provider.prepare(f"prepare-{request.service}-{version}", request)
    await ready(provider, request)


async def route(provider: LocalProvider, weights: dict[str, int], service: str = "web") -> int:
    """Set a service's weights in the test region."""
    key = f"routes-{service}-{uuid.uuid4()}"
    return await provider.set_traffic(key, REGION, RouteTable(service=service, weights=weights))


async def router_url(provider: LocalProvider) -> str:
    """The test region's router."""
    return (await provider.routers())[REGION]


async def versions_served(url: str, requests: int, host: str | None = None) -> Counter[str]:
    """How many of ``requests`` GETs through a router each version answered."""
    headers = {"Host": host} if host else {}
    served: Counter[str] = Counter()
    async with httpx.AsyncClient(timeout=5) as client:
        for _ in range(requests):
            response = await client.get(url + "/", headers=headers)
            assert response.status_code == 200, response.text
            assert response.text == response.headers["X-Ferryman-Version"]
            served[response.text] += 1
    return served


async def started(provider: LocalProvider) -> list[str]:
    """Instance ids of every ``instance.started`` event."""
    return [e.instance or "" for e in await provider.events("instance.started")]


def pids(instances: list[Instance]) -> list[int]:
    """The pids of instances, all of which must have one (and there must be some)."""
    found = [i.pid for i in instances]
    assert found, "no instances"
    assert all(pid is not None for pid in found)
    return [pid for pid in found if pid is not None]


async def test_ping_answers_with_the_agents_own_pid(
    local_agent: Agent, provider: LocalProvider
) -> None:
    # That LocalProvider is a Provider, signatures and all, is checked by mypy
    # (ferryman.testing.protocols); what it does, by the conformance suite.
    assert local_agent.process is not None
    assert await provider.ping() == local_agent.process.pid


async def test_prepare_starts_real_processes_that_answer(
    provider: LocalProvider, tmp_path: Path
) -> None:
    request = request_for(tmp_path, "v1", replicas=3)
    instances = await provider.prepare("p1", request)
    assert len(instances) == 3
    assert len({i.port for i in instances}) == 3
    assert all(pid_alive(pid) for pid in pids(instances))
    await ready(provider, request)
    async with httpx.AsyncClient() as client:
        for instance in instances:
            answer = await client.get(f"http://127.0.0.1:{instance.port}/")
            assert answer.text == "v1"
    assert {i.state for i in await provider.instances()} == {"healthy"}


async def test_prepare_is_idempotent_by_key_and_by_content(
    provider: LocalProvider, tmp_path: Path
) -> None:
    request = request_for(tmp_path, "v1", replicas=2)
    first = await provider.prepare("p1", request)
    again = await provider.prepare("p1", request)
    other_key = await provider.prepare("p2", request)
    assert [i.id for i in again] == [i.id for i in first]
    assert [i.id for i in other_key] == [i.id for i in first]
    assert sorted(await started(provider)) == sorted(i.id for i in first)

    more = await provider.prepare("p3", request.model_copy(update={"replicas": 3}))
    assert len(more) == 3
    assert len(await started(provider)) == 3


async def test_a_key_reused_for_another_request_is_refused(
    provider: LocalProvider, tmp_path: Path
) -> None:
    await provider.prepare("p1", request_for(tmp_path, "v1", replicas=1))
    with pytest.raises(ProviderError, match="already used for a different prepare"):
        await provider.prepare("p1", request_for(tmp_path, "v2", replicas=1))


async def test_health_reports_each_instance(provider: LocalProvider, tmp_path: Path) -> None:
    request = request_for(tmp_path, "v1", replicas=2)
    instances = await provider.prepare("p1", request)
    await ready(provider, request)
    os.killpg(pids(instances)[0], signal.SIGSTOP)
    try:
        report = await provider.health(REGION, ZONE, "web", "v1")
        assert (report.healthy, report.total, report.ready) == (1, 2, False)
        assert instances[0].id in report.detail
    finally:
        os.killpg(pids(instances)[0], signal.SIGCONT)
    nothing = await provider.health(REGION, ZONE, "web", "v9")
    assert (nothing.total, nothing.ready) == (0, False)


async def test_router_serves_the_routed_version_and_swaps(
    provider: LocalProvider, tmp_path: Path
) -> None:
    await deploy(provider, tmp_path, "v1")
    await deploy(provider, tmp_path, "v2")
    assert await route(provider, {"v1": 100}) == 1
    url = await router_url(provider)
    assert await versions_served(url, 10) == {"v1": 10}

    assert await route(provider, {"v2": 100}) == 2
    assert await versions_served(url, 10) == {"v2": 10}
    state = await provider.current_state(REGION, "web")
    assert state.routes == RouteTable(service="web", weights={"v2": 100})
    assert (state.generation, state.router_url) == (2, url)
    assert state.versions_by_zone == {ZONE: ["v1", "v2"]}


async def test_a_weighted_split_is_exact(provider: LocalProvider, tmp_path: Path) -> None:
    await deploy(provider, tmp_path, "v1")
    await deploy(provider, tmp_path, "v2")
    await route(provider, {"v1": 50, "v2": 50})
    url = await router_url(provider)
    assert await versions_served(url, 200) == {"v1": 100, "v2": 100}
    await route(provider, {"v1": 90, "v2": 10})
    assert await versions_served(url, 100) == {"v1": 90, "v2": 10}


async def test_invalid_routes_are_refused_and_the_old_table_stays(
    provider: LocalProvider, tmp_path: Path
) -> None:
    await deploy(provider, tmp_path, "v1")
    await route(provider, {"v1": 100})
    with pytest.raises(ProviderError, match="weights must sum to 100, got 90"):
        await route(provider, {"v1": 90})
    with pytest.raises(ProviderError, match=r"weights are percents 0\.\.100, got v1=110, v2=-10"):
        await route(provider, {"v1": 110, "v2": -10})
    with pytest.raises(ProviderError, match="weights must sum to 100, got 0 "):
        await route(provider, {})
    with pytest.raises(ProviderError, match="cannot route web in r1 to v3: no running instance"):
        await route(provider, {"v1": 50, "v3": 50})
    assert await versions_served(await router_url(provider), 5) == {"v1": 5}
    assert (await provider.current_state(REGION, "web")).generation == 1


async def test_set_traffic_is_idempotent_by_key(provider: LocalProvider, tmp_path: Path) -> None:
    await deploy(provider, tmp_path, "v1")
    table = RouteTable(service="web", weights={"v1": 100})
    assert await provider.set_traffic("t1", REGION, table) == 1
    assert await provider.set_traffic("t1", REGION, table) == 1
    assert await provider.set_traffic("t2", REGION, table) == 2


async def test_the_host_header_picks_the_service(provider: LocalProvider, tmp_path: Path) -> None:
    await deploy(provider, tmp_path, "v1", service="web", replicas=1)
    await deploy(provider, tmp_path, "a1", service="api", replicas=1)
    await route(provider, {"v1": 100}, service="web")
    await route(provider, {"a1": 100}, service="api")
    url = await router_url(provider)
    assert await versions_served(url, 3, host="api.example.test") == {"a1": 3}
    assert await versions_served(url, 3, host="web.example.test:8080") == {"v1": 3}
    async with httpx.AsyncClient() as client:
        lost = await client.get(url + "/", headers={"Host": "shop.example.test"})
        assert lost.status_code == 404
        assert "names none of the services routed in r1: api, web" in lost.text
        seen = await client.get(url + "/", headers={"Host": "api.example.test"})
        assert seen.headers["X-Seen-Host"] == "api.example.test"


async def test_request_and_response_bodies_pass_through(
    provider: LocalProvider, tmp_path: Path
) -> None:
    await deploy(provider, tmp_path, "v1", replicas=1)
    await route(provider, {"v1": 100})
    body = os.urandom(3 * 1024 * 1024)
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.post(await router_url(provider) + "/upload?x=1", content=body)
    assert answer.status_code == 200
    assert answer.text == f"{len(body)} {hashlib.sha256(body).hexdigest()}"
    assert answer.headers["X-Ferryman-Zone"] == ZONE
    assert answer.headers["X-Ferryman-Instance"].startswith("web-v1-")


async def test_retire_stops_the_processes(provider: LocalProvider, tmp_path: Path) -> None:
    request = request_for(tmp_path, "v1", replicas=2)
    instances = await provider.prepare("p1", request)
    await ready(provider, request)
    await route(provider, {"v1": 100})

    assert await provider.retire("r1", REGION, ZONE, "web", "v1") == 2
    assert not any(pid_alive(pid) for pid in pids(instances))
    assert await provider.retire("r1", REGION, ZONE, "web", "v1") == 2
    assert await provider.retire("r2", REGION, ZONE, "web", "v1") == 0
    assert {i.state for i in await provider.instances()} == {"stopped"}
    assert (await provider.current_state(REGION, "web")).versions_by_zone == {}
    async with httpx.AsyncClient() as client:
        gone = await client.get(await router_url(provider) + "/")
    assert gone.status_code == 503
    assert "no healthy instance of web v1 in r1" in gone.text


async def test_a_killed_instance_is_restarted_and_skipped_meanwhile(
    provider: LocalProvider, tmp_path: Path
) -> None:
    request = request_for(tmp_path, "v1", replicas=2)
    instances = await provider.prepare("p1", request)
    await ready(provider, request)
    await route(provider, {"v1": 100})
    victim = instances[0]
    os.killpg(pids([victim])[0], signal.SIGKILL)
    assert await versions_served(await router_url(provider), 6) == {"v1": 6}

    async def restarted() -> bool:
        now = {i.id: i for i in await provider.instances()}[victim.id]
        return now.pid not in (None, victim.pid) and now.state == "healthy"

    await eventually(restarted, what="the killed instance to be restarted")
    restarts = await provider.events("instance.restarted")
    assert [e.instance for e in restarts] == [victim.id]
    assert len(await started(provider)) == 2


async def test_agent_killed_and_restarted_readopts_instances_and_routers(
    local_agent: Agent, provider: LocalProvider, tmp_path: Path
) -> None:
    await deploy(provider, tmp_path, "v1")
    await route(provider, {"v1": 100})
    url = await router_url(provider)
    before = await provider.instances()

    local_agent.signal(signal.SIGKILL)
    assert all(pid_alive(pid) for pid in pids(before))
    with pytest.raises(AgentUnavailable, match="did not answer"):
        await provider.instances()
    local_agent.start()

    assert await router_url(provider) == url
    assert await versions_served(url, 4) == {"v1": 4}
    after = await provider.instances()
    assert [(i.id, i.pid) for i in after] == [(i.id, i.pid) for i in before]
    assert len(await started(provider)) == 2
    assert len(await provider.events("instance.adopted")) == 2
    assert await provider.events("instance.restarted") == []
    state = await provider.current_state(REGION, "web")
    assert (state.generation, state.routes) == (1, RouteTable(service="web", weights={"v1": 100}))


async def test_sigterm_leaves_instances_running_unless_asked(
    local_agent: Agent, provider: LocalProvider, tmp_path: Path
) -> None:
    await deploy(provider, tmp_path, "v1", replicas=1)
    instances = await provider.instances()
    assert local_agent.signal(signal.SIGTERM) == 0
    assert all(pid_alive(pid) for pid in pids(instances))

    local_agent.start("--stop-instances-on-exit")
    assert [i.pid for i in await provider.instances()] == pids(instances)
    assert local_agent.signal(signal.SIGINT) == 0
    assert not any(pid_alive(pid) for pid in pids(instances))


def test_a_second_agent_on_the_same_state_dir_refuses_to_start(local_agent: Agent) -> None:
    argv = [sys.executable, "-m", "ferryman.providers.local.agent"]
    second = subprocess.run(
        [*argv, "--state-dir", str(local_agent.state_dir), "--port", str(_free_port())],
        capture_output=True,
        text=True,
        timeout=20,
        env={**os.environ, MARKER: local_agent.run_id},
    )
    assert second.returncode == 1
    assert "another agent already runs on" in second.stderr


async def test_errors_are_one_line_json(local_agent: Agent, provider: LocalProvider) -> None:
    async with httpx.AsyncClient(base_url=local_agent.url) as client:
        missing = await client.get("/v1/nothing")
        broken = await client.post("/v1/prepare", content=b"{not json")
        invalid = await client.post("/v1/prepare", json={"key": "k"})
    assert (missing.status_code, missing.json()) == (
        404,
        {"error": "no such endpoint: GET /v1/nothing"},
    )
    assert (broken.status_code, broken.json()) == (400, {"error": "body is not valid JSON"})
    assert invalid.status_code == 400
    assert invalid.json()["error"].startswith("invalid body: request: Field required")
    with pytest.raises(ProviderError, match="artifact_dir /nonexistent is not a directory"):
        await provider.prepare(
            "p1",
            InstanceRequest(
                region=REGION,
                zone=ZONE,
                service="web",
                version="v1",
                artifact_dir="/nonexistent",
                command="true",
            ),
        )


async def test_an_absent_agent_is_reported_as_unavailable() -> None:
    absent = LocalProvider(f"http://127.0.0.1:{_free_port()}", timeout=2)
    with pytest.raises(AgentUnavailable, match=r"local agent at http://127\.0\.0\.1:\d+ did not"):
        await absent.current_state(REGION, "web")
