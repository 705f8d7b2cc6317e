"""The local provider passes the provider conformance suite (``ferryman.testing.conformance``)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from ferryman.platform.models import Instance, InstanceRequest, ServiceState
from ferryman.providers.base import Provider
from ferryman.testing.conformance import CHECKS, Target
from ferryman.testing.platform import LocalPlatform

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

BACKENDS = ["builtin", pytest.param("haproxy", marks=pytest.mark.needs_haproxy)]


def _refuses(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture(params=BACKENDS)
async def target(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Target]:
    async with LocalPlatform(tmp_path, traffic_backend=request.param) as platform:

        def sick_file(version: str) -> Path:
            return tmp_path / f"sick-{version}"

        def instances(zone: str, version: str) -> InstanceRequest:
            env = {"FIXTURE_HEALTH_FILE": str(sick_file(version))}
            return platform.request("r1", zone, version, replicas=2, env=env)

        async def observe(state: ServiceState) -> str:
            assert state.router_url is not None
            async with httpx.AsyncClient() as client:
                return (await client.get(state.router_url)).headers["X-Ferryman-Version"]

        async def break_health(version: str) -> None:
            sick_file(version).touch()

        async def repair_health(version: str) -> None:
            sick_file(version).unlink(missing_ok=True)

        async def restart() -> Provider:
            await platform.restart_agent()
            return platform.provider

        async def released(instances: list[Instance]) -> bool:
            return all(_refuses(i.port) for i in instances)

        yield Target(
            provider=platform.provider,
            request=instances,
            observe=observe,
            break_health=break_health,
            repair_health=repair_health,
            restart=restart,
            released=released,
        )


@pytest.mark.parametrize("check", CHECKS, ids=[c.__name__ for c in CHECKS])
async def test_local_provider(target: Target, check: Callable[[Target], Awaitable[None]]) -> None:
    await check(target)
