"""A provider that fails on purpose, for chaos tests: transient errors, timeouts, a dead region.

::

    faults = FaultConfig(seed=7, transient_rate=0.1, timeout_rate=0.05, fail_region="ap-south")
    providers = faulty_providers(local_providers(agent_url), faults)

A worker process gets it with ``python -m ferryman.testing.faulty_provider``
(the options of ``ferryman worker``) and the faults as JSON in
``$FERRYMAN_TEST_FAULTS``; without that variable it is the plain worker. Only
this test module reads the variable: ``ferryman worker`` never injects a fault.

What each fault looks like to the worker is what a real platform does to it:

* **transient** — the call fails as an unreachable agent (``AgentUnavailable``,
  retried by Temporal), either before it reaches the platform or after the
  platform did the work and only the answer was lost;
* **timeout** — the call is done, then hangs for ``timeout_s`` and fails as a
  client timeout (the answer is lost after a long wait);
* **permanent** — every call of ``fail_calls`` in ``fail_region`` is refused
  for good (``ProviderError``, not retried): that region cannot deploy.

The faults drawn depend only on ``seed``, ``incarnation`` and the order of the
calls, and each one is appended as a JSON line to ``log`` (if set), so a test
counts what it injected.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from ferryman.errors import AgentUnavailable, ProviderError
from ferryman.platform.models import (
    HealthReport,
    Instance,
    InstanceRequest,
    RouteTable,
    ServiceState,
)
from ferryman.providers.base import Provider
from ferryman.temporal.activities.deploy import ProviderFactory

ENV_VAR = "FERRYMAN_TEST_FAULTS"
"""The faults of a worker started with ``python -m ferryman.testing.faulty_provider``, as JSON."""
CALLS = ("prepare", "health", "set_traffic", "current_state", "retire")
T = TypeVar("T")


class FaultConfig(BaseModel):
    """Which faults a :class:`FaultyProvider` injects, and how often.

    Attributes:
        seed: Seeds the draws (with ``incarnation``).
        incarnation: Which worker of a run this is (a restarted worker draws anew).
        transient_rate: Chance that a call fails as an unreachable agent.
        timeout_rate: Chance that a call hangs ``timeout_s`` after it was done, then fails.
        timeout_s: How long a timed-out call hangs.
        calls: The calls transient errors and timeouts may hit.
        fail_region: Refuse ``fail_calls`` in this region for good.
        fail_calls: The calls refused in ``fail_region``.
        log: Append one JSON line per injected fault to this file.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = 0
    incarnation: int = 0
    transient_rate: float = Field(default=0.0, ge=0, le=1)
    timeout_rate: float = Field(default=0.0, ge=0, le=1)
    timeout_s: float = Field(default=3.0, ge=0)
    calls: tuple[str, ...] = CALLS
    fail_region: str | None = None
    fail_calls: tuple[str, ...] = ("prepare",)
    log: str | None = None


class FaultyProvider:
    """Wraps a :class:`Provider` and injects the faults of a :class:`FaultConfig`."""

    def __init__(self, inner: Provider, config: FaultConfig) -> None:
        self.inner = inner
        self.config = config
        self._random = random.Random(f"{config.seed}/{config.incarnation}")

    def _record(self, kind: str, call: str, region: str) -> None:
        if self.config.log is None:
            return
        line = json.dumps(
            {"kind": kind, "call": call, "region": region, "pid": os.getpid(), "time": time.time()}
        )
        with Path(self.config.log).open("a") as log:
            log.write(line + "\n")

    async def _faulty(self, call: str, region: str, action: Callable[[], Awaitable[T]]) -> T:
        config = self.config
        if region == config.fail_region and call in config.fail_calls:
            self._record("permanent", call, region)
            raise ProviderError(f"chaos: {region} refuses {call} for good")
        draw = self._random.random() if call in config.calls else 1.0
        if draw < config.transient_rate / 2:
            self._record("transient-before", call, region)
            raise AgentUnavailable(f"chaos: {call} in {region} never reached the platform")
        if draw < config.transient_rate:
            await action()
            self._record("transient-after", call, region)
            raise AgentUnavailable(f"chaos: {call} in {region} was done, its answer lost")
        if draw < config.transient_rate + config.timeout_rate:
            await action()
            self._record("timeout", call, region)
            await asyncio.sleep(config.timeout_s)
            raise AgentUnavailable(f"chaos: {call} in {region} timed out after it was done")
        return await action()

    async def prepare(
        self, key: str, request: InstanceRequest, secrets: Mapping[str, str] | None = None
    ) -> list[Instance]:
        """See :meth:`Provider.prepare`."""
        return await self._faulty(
            "prepare", request.region, lambda: self.inner.prepare(key, request, secrets)
        )

    async def health(self, region: str, zone: str, service: str, version: str) -> HealthReport:
        """See :meth:`Provider.health`."""
        return await self._faulty(
            "health", region, lambda: self.inner.health(region, zone, service, version)
        )

    async def set_traffic(self, key: str, region: str, routes: RouteTable) -> int:
        """See :meth:`Provider.set_traffic`."""
        return await self._faulty(
            "set_traffic", region, lambda: self.inner.set_traffic(key, region, routes)
        )

    async def current_state(self, region: str, service: str) -> ServiceState:
        """See :meth:`Provider.current_state`."""
        return await self._faulty(
            "current_state", region, lambda: self.inner.current_state(region, service)
        )

    async def retire(self, key: str, region: str, zone: str, service: str, version: str) -> int:
        """See :meth:`Provider.retire`."""
        return await self._faulty(
            "retire", region, lambda: self.inner.retire(key, region, zone, service, version)
        )


def faulty_providers(providers: ProviderFactory, config: FaultConfig) -> ProviderFactory:
    """``providers`` with every provider wrapped in a :class:`FaultyProvider` (one each)."""
    cache: dict[tuple[str, str], Provider] = {}

    def factory(platform: str, environment: str) -> Provider:
        if (platform, environment) not in cache:
            cache[platform, environment] = FaultyProvider(providers(platform, environment), config)
        return cache[platform, environment]

    return factory


def config_from_env() -> FaultConfig | None:
    """The faults in ``$FERRYMAN_TEST_FAULTS``, or None when it is unset or empty."""
    raw = os.environ.get(ENV_VAR, "")
    return FaultConfig.model_validate_json(raw) if raw.strip() else None


def main(argv: list[str] | None = None) -> None:
    """``ferryman worker`` whose providers inject the faults of ``$FERRYMAN_TEST_FAULTS``."""
    from ferryman.temporal.worker.main import main as worker_main
    from ferryman.temporal.worker.main import parser
    from ferryman.temporal.worker.workers import local_providers

    config = config_from_env()
    if config is None:
        worker_main(argv)
        return
    args, _ = parser().parse_known_args(argv)
    worker_main(argv, faulty_providers(local_providers(args.agent_url), config))


if __name__ == "__main__":
    main()
