"""``ferryman dev --prometheus``: the dev stack starts a real Prometheus scraping the agent."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest

from ferryman.devstack import DevStack, StackConfig, stack
from ferryman.devstack.processes import pid_alive
from ferryman.errors import DevStackError
from ferryman.testing import free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def config(prometheus: bool = True) -> StackConfig:
    return StackConfig(
        temporal_port=free_port(),
        ui_port=free_port(),
        agent_port=free_port(),
        router_base_port=free_port(),
        prometheus=prometheus,
        prometheus_port=free_port(),
    )


def targets(url: str) -> list[tuple[str, str]]:
    with urllib.request.urlopen(f"{url}/api/v1/targets", timeout=5) as answer:
        active = json.load(answer)["data"]["activeTargets"]
    return [(t["labels"]["job"], t["health"]) for t in active]


@pytest.mark.needs_prometheus
def test_dev_with_prometheus_scrapes_the_agent_and_stops_with_the_stack(
    ferryman_home: Path,
) -> None:
    info = DevStack(config()).start()
    try:
        assert info.prometheus_url is not None
        assert (ferryman_home / "prometheus" / "prometheus.yml").exists()
        deadline = time.monotonic() + 60
        while ("ferryman-services", "up") not in targets(info.prometheus_url):
            assert time.monotonic() < deadline, targets(info.prometheus_url)
            time.sleep(0.5)
    finally:
        DevStack.stop(info)
    assert not any(pid_alive(pid) for pid in info.pids.values())


def test_dev_without_prometheus_stops_before_starting_anything(
    ferryman_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing() -> str:
        raise DevStackError("prometheus is not installed: `apt-get install prometheus`")

    monkeypatch.setattr(stack, "prometheus_binary", missing)
    with pytest.raises(DevStackError, match="prometheus is not installed"):
        DevStack(config()).start()
    assert not (ferryman_home / "dev.json").exists()
    assert not (ferryman_home / "dev-logs" / "temporal.log").exists()
