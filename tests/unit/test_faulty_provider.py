"""The chaos suite's fault-injecting provider: seeded, logged, and off unless asked for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ferryman.errors import AgentUnavailable, ProviderError
from ferryman.platform.models import InstanceRequest
from ferryman.testing.fake_provider import FakeProvider
from ferryman.testing.faulty_provider import (
    ENV_VAR,
    FaultConfig,
    FaultyProvider,
    config_from_env,
    faulty_providers,
)


def request(region: str, zone: str = "a") -> InstanceRequest:
    return InstanceRequest(
        region=region, zone=zone, service="web", version="v2", artifact_dir="/x", command="x"
    )


async def outcomes(config: FaultConfig, calls: int = 200) -> list[str]:
    provider = FaultyProvider(FakeProvider(), config)
    seen = []
    for n in range(calls):
        try:
            await provider.prepare(f"k{n}", request("r1", f"z{n}"))
            seen.append("ok")
        except AgentUnavailable as error:
            seen.append(str(error).split(" ")[-1])
    return seen


async def test_transient_faults_are_drawn_from_the_seed_and_logged(tmp_path: Path) -> None:
    log = tmp_path / "faults.jsonl"
    config = FaultConfig(seed=3, transient_rate=0.3, log=str(log))
    first, again = await outcomes(config), await outcomes(config.model_copy(update={"log": None}))
    assert first == again, "the same seed and incarnation draw the same faults"
    assert 20 < first.count("ok") < 180
    kinds = [json.loads(line)["kind"] for line in log.read_text().splitlines()]
    assert len(kinds) == len(first) - first.count("ok")
    assert set(kinds) == {"transient-before", "transient-after"}
    other = await outcomes(config.model_copy(update={"incarnation": 1, "log": None}))
    assert other != first, "a restarted worker draws anew"


async def test_a_fault_after_the_call_keeps_its_side_effect() -> None:
    inner = FakeProvider()
    provider = FaultyProvider(inner, FaultConfig(transient_rate=1.0, seed=0))
    failures = 0
    for n in range(20):
        try:
            await provider.prepare(f"k{n}", request("r1", f"z{n}"))
        except AgentUnavailable:
            failures += 1
    assert failures == 20
    assert 0 < inner.starts < 20, "some calls were done, some never arrived"


async def test_the_failing_region_refuses_for_good_and_only_there() -> None:
    provider = FaultyProvider(FakeProvider(), FaultConfig(fail_region="r2"))
    assert len(await provider.prepare("k1", request("r1"))) == 1
    with pytest.raises(ProviderError, match="chaos: r2 refuses prepare for good") as refused:
        await provider.prepare("k2", request("r2"))
    assert not isinstance(refused.value, AgentUnavailable), "not retried"
    assert (await provider.current_state("r2", "web")).generation == 0


async def test_timeouts_hang_then_fail() -> None:
    provider = FaultyProvider(FakeProvider(), FaultConfig(timeout_rate=1.0, timeout_s=0.01))
    with pytest.raises(AgentUnavailable, match="timed out after it was done"):
        await provider.health("r1", "a", "web", "v1")


def test_the_faults_are_off_unless_the_variable_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert config_from_env() is None
    monkeypatch.setenv(ENV_VAR, "")
    assert config_from_env() is None
    monkeypatch.setenv(ENV_VAR, FaultConfig(seed=9, fail_region="r1").model_dump_json())
    assert config_from_env() == FaultConfig(seed=9, fail_region="r1")
    factory = faulty_providers(lambda platform, env: FakeProvider(), FaultConfig())
    assert factory("local", "dev") is factory("local", "dev")
    assert isinstance(factory("local", "dev"), FaultyProvider)
