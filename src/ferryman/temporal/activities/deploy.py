"""Deploy activities: thin, idempotent adapters from workflows to a provider.

Every mutating call passes a deterministic key (release id + step id) to the
provider, so a retried or replayed activity never repeats a side effect.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from ferryman import paths
from ferryman.build.artifacts import ArtifactStore
from ferryman.build.trust import ArtifactRejected, trusted_keys, verify_artifact
from ferryman.errors import AgentUnavailable, ProviderError
from ferryman.platform.models import HealthReport, ServiceState
from ferryman.providers.base import Provider, ZonalTraffic
from ferryman.providers.smoke import run_smoke_checks
from ferryman.temporal.activities.secrets import read_secrets
from ferryman.temporal.models.region import (
    CommitInput,
    HealthInput,
    PrepareInput,
    RetireInput,
    SmokeInput,
    StageInput,
    StateInput,
    TrafficInput,
    VerifiedArtifact,
    VerifyInput,
    Where,
)

ProviderFactory = Callable[[str, str], Provider]
"""(platform, environment) → the provider serving that environment on that platform."""
T = TypeVar("T")


class DeployActivities:
    """Provider-facing activities.

    Args:
        providers: Gives the provider of a platform for an environment; raises
            ``KeyError`` for a platform this worker does not know.
    """

    def __init__(self, providers: ProviderFactory) -> None:
        self._providers = providers

    def _provider(self, where: Where) -> Provider:
        try:
            return self._providers(where.platform, where.environment)
        except KeyError as exc:
            raise ApplicationError(
                f"unknown platform {where.platform!r}", type="UnknownPlatform", non_retryable=True
            ) from exc

    @activity.defn(name="ferryman.service_state")
    async def service_state(self, data: StateInput) -> ServiceState:
        """Record what a region runs for a service before anything changes."""
        return await _call(self._provider(data).current_state(data.region, data.service))

    @activity.defn(name="ferryman.verify_artifacts")
    async def verify_artifacts(self, data: VerifyInput) -> tuple[VerifiedArtifact, ...]:
        """Check each artifact's digests and signed provenance chain before any instance starts.

        Reads only: the artifact store and trusted keys of this worker's state home
        (where the provider unpacks artifacts from), so a retry repeats nothing.

        Raises:
            ApplicationError: ``ArtifactRejected`` (not retryable), with a one-line reason.
        """
        return await asyncio.to_thread(_verify_all, data)

    @activity.defn(name="ferryman.prepare_zone")
    async def prepare_zone(self, data: PrepareInput) -> int:
        """Start the version's instances in one zone from its artifact, with its secrets.

        The secrets' values are read here, on this worker, and handed to the
        provider beside the request: never in the input, the result or an error.
        """
        values = read_secrets(data.request.secrets)
        instances = await _call(self._provider(data).prepare(data.key, data.request, values))
        return len(instances)

    @activity.defn(name="ferryman.await_healthy")
    async def await_healthy(self, data: HealthInput) -> HealthReport:
        """Poll health until every instance is ready, failing after ``timeout_s``."""
        provider = self._provider(data)
        deadline = time.monotonic() + data.timeout_s
        while True:
            report = await _call(
                provider.health(data.region, data.zone, data.service, data.version)
            )
            activity.heartbeat(f"{report.healthy}/{report.total} healthy")
            if report.ready:
                return report
            if time.monotonic() >= deadline:
                raise ApplicationError(
                    f"zone {data.zone}: {data.service} {data.version} "
                    f"{report.healthy}/{report.total} instances healthy after "
                    f"{data.timeout_s:g}s {report.detail}".rstrip(),
                    type="Unhealthy",
                    non_retryable=True,
                )
            await asyncio.sleep(data.interval_s)

    @activity.defn(name="ferryman.smoke")
    async def smoke(self, data: SmokeInput) -> int:
        """HTTP checks through the region's router against one version; returns requests sent."""
        state = await _call(self._provider(data).current_state(data.region, data.service))
        if not state.router_url:
            raise ApplicationError(
                f"{data.region} has no router for {data.service}", type="SmokeFailed"
            )
        problem, sent = await run_smoke_checks(
            state.router_url, data.service, data.version, data.checks, data.match
        )
        if problem:
            raise ApplicationError(
                f"smoke check failed: {problem}", type="SmokeFailed", non_retryable=True
            )
        return sent

    @activity.defn(name="ferryman.set_traffic")
    async def set_traffic(self, data: TrafficInput) -> int:
        """Swap a region's route table for a service in one step."""
        return await _call(self._provider(data).set_traffic(data.key, data.region, data.routes))

    def _zonal(self, where: Where) -> ZonalTraffic:
        provider = self._provider(where)
        if not isinstance(provider, ZonalTraffic):
            raise ApplicationError(
                f"platform {where.platform!r} has no zonal data plane (data-plane: zonal)",
                type="UnsupportedDataPlane",
                non_retryable=True,
            )
        return provider

    @activity.defn(name="ferryman.stage_traffic")
    async def stage_traffic(self, data: StageInput) -> int:
        """Phase 1 of a zonal switch: every zone router holds the new table (or none does)."""
        provider = self._zonal(data)
        return await _call(provider.stage_traffic(data.key, data.region, data.zones, data.routes))

    @activity.defn(name="ferryman.commit_traffic")
    async def commit_traffic(self, data: CommitInput) -> int:
        """Phase 2: every zone router serves the staged generation (retried until all do)."""
        provider = self._zonal(data)
        return await _call(provider.commit_traffic(data.key, data.region, data.generation))

    @activity.defn(name="ferryman.retire")
    async def retire(self, data: RetireInput) -> int:
        """Stop a version's instances in one zone."""
        provider = self._provider(data)
        return await _call(
            provider.retire(data.key, data.region, data.zone, data.service, data.version)
        )

    def all(self) -> list[Callable[..., object]]:
        """Every activity of this class, for registering on a worker."""
        return [
            self.service_state,
            self.verify_artifacts,
            self.prepare_zone,
            self.await_healthy,
            self.set_traffic,
            self.stage_traffic,
            self.commit_traffic,
            self.retire,
            self.smoke,
        ]


def _verify_all(data: VerifyInput) -> tuple[VerifiedArtifact, ...]:
    store = ArtifactStore(paths.artifacts_dir())
    verified = []
    for artifact in data.artifacts:
        try:
            chain = verify_artifact(store, artifact.digest, trusted_keys())
        except ArtifactRejected as exc:
            # One line, and no cause: the reason is the whole story.
            raise ApplicationError(
                f"{artifact.service} {artifact.version} refused: {exc}",
                type="ArtifactRejected",
                non_retryable=True,
            ) from None
        verified.append(
            VerifiedArtifact(
                service=artifact.service,
                digest=chain.digest,
                key=chain.key,
                node=chain.node,
                commit=chain.commit,
            )
        )
    return tuple(verified)


async def _call(call: Awaitable[T]) -> T:
    """Await a provider call while heartbeating, so a dead worker is noticed in seconds.

    A refusal fails the activity for good; an unreachable agent is retried by Temporal.
    """
    task = asyncio.ensure_future(call)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=1.0)
            if done:
                return task.result()
            activity.heartbeat()
    except AgentUnavailable:
        raise
    except asyncio.CancelledError:
        task.cancel()
        raise
    except ProviderError as exc:
        raise ApplicationError(str(exc), type="ProviderRefused", non_retryable=True) from exc
