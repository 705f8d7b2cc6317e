"""``LocalProvider``: the ``Provider`` Protocol spoken over HTTP to the local agent.

A provider acts within one environment (``/v1/env/{environment}/…`` on the
agent): two providers of different environments never see or touch each
other's instances, routes or routers, even in regions of the same name.

Each call opens its own short-lived connection, so a provider object can be
shared freely between activities and event loops. Failures are not retried
here: Temporal retries the activity. A 503 answer (a zonal commit some zone
missed) raises :class:`~ferryman.errors.AgentUnavailable`, as an unreachable
agent does, so the activity is retried; any other error answer raises
:class:`~ferryman.errors.ProviderError`.

Besides the ``Provider`` Protocol it implements ``ZonalTraffic`` (the
two-phase switch of a zonal region) and reads routers' request logs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from ferryman import paths
from ferryman.build.artifacts import ArtifactStore
from ferryman.errors import AgentUnavailable, BuildError, ProviderError
from ferryman.platform.models import (
    HealthReport,
    Instance,
    InstanceRequest,
    RouteTable,
    ServiceState,
)
from ferryman.providers.local.unpack import unpack_once
from ferryman.providers.local.wire import (
    AbortBody,
    AbortResult,
    AgentEvent,
    AgentHealth,
    CommitBody,
    CommitResult,
    EventsResult,
    InstancesResult,
    PrepareBody,
    PrepareResult,
    RequestEntry,
    RequestLogResult,
    RetireBody,
    RetireResult,
    RoutesBody,
    RoutesResult,
    StageBody,
    StageResult,
    ZonalState,
)

_Model = TypeVar("_Model", bound=BaseModel)


def _path(*segments: str) -> str:
    return "/".join(quote(segment, safe="") for segment in segments)


class LocalProvider:
    """Talks to a local platform agent.

    Args:
        base_url: The agent's address, e.g. ``http://127.0.0.1:7300``.
        environment: The environment every call acts in.
        timeout: Seconds to wait for any one answer.
        commit_lead_ms: Zonal commits activate this far ahead on the routers' shared
            clock (0: on receipt; None: the agent's default).
    """

    def __init__(
        self,
        base_url: str,
        environment: str = "default",
        timeout: float = 30,
        commit_lead_ms: float | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.environment = environment
        self.timeout = timeout
        self.commit_lead_ms = commit_lead_ms
        self._scope = "/v1/env/" + _path(environment)

    def __repr__(self) -> str:
        return f"LocalProvider({self.base_url!r}, environment={self.environment!r})"

    async def prepare(
        self, key: str, request: InstanceRequest, secrets: Mapping[str, str] | None = None
    ) -> list[Instance]:
        """Start ``request.replicas`` instances of a version in a zone (idempotent by key).

        A request naming only an ``artifact_digest`` runs that bundle, unpacked once
        from the artifact store under ``FERRYMAN_HOME``. ``secrets`` (the values of
        ``request.secrets``) travel to the agent in the request body only.
        """
        if not request.artifact_dir and request.artifact_digest:
            unpacked = await asyncio.to_thread(self._unpack, request)
            request = request.model_copy(update={"artifact_dir": str(unpacked)})
        body = PrepareBody(key=key, request=request, secrets=dict(secrets or {}))
        path = self._scope + "/prepare"
        return (await self._call("POST", path, PrepareResult, body)).instances

    @staticmethod
    def _unpack(request: InstanceRequest) -> Path:
        store = ArtifactStore(paths.artifacts_dir())
        try:
            return unpack_once(store, request.artifact_digest, paths.home() / "unpacked")
        except BuildError as exc:
            raise ProviderError(f"artifact {request.artifact_digest}: {exc}") from exc

    async def health(self, region: str, zone: str, service: str, version: str) -> HealthReport:
        """Check every instance of a version in a zone."""
        path = f"{self._scope}/health/" + _path(region, zone, service, version)
        return await self._call("GET", path, HealthReport)

    async def set_traffic(self, key: str, region: str, routes: RouteTable) -> int:
        """Atomically replace a region's routes for a service; returns the new generation."""
        path = f"{self._scope}/routes/" + _path(region, routes.service)
        body = RoutesBody(key=key, routes=routes)
        return (await self._call("PUT", path, RoutesResult, body)).generation

    async def current_state(self, region: str, service: str) -> ServiceState:
        """Versions per zone, routes and generation for a service in a region."""
        path = f"{self._scope}/state/" + _path(region, service)
        return await self._call("GET", path, ServiceState)

    async def retire(self, key: str, region: str, zone: str, service: str, version: str) -> int:
        """Stop every instance of a version in a zone; returns how many were stopped."""
        body = RetireBody(key=key, region=region, zone=zone, service=service, version=version)
        return (await self._call("POST", self._scope + "/retire", RetireResult, body)).stopped

    # --- zonal data planes (ZonalTraffic) ----------------------------------------------------

    async def stage_traffic(
        self, key: str, region: str, zones: tuple[str, ...], routes: RouteTable
    ) -> int:
        """Phase 1: stage a service's table in every zone router; returns the staged generation.

        The region becomes zonal (a router per zone, a front) if it was not. A zone that
        refuses aborts the switch everywhere (``ProviderError`` naming it); nothing changes.
        """
        path = f"{self._scope}/switch/" + _path(region) + "/stage"
        body = StageBody(key=key, zones=zones, routes=routes)
        return (await self._call("POST", path, StageResult, body)).generation

    async def commit_traffic(self, key: str, region: str, generation: int) -> int:
        """Phase 2: every zone router serves the staged generation; returns it.

        A zone that missed the commit raises ``AgentUnavailable``: repeat the call.
        """
        return (await self.commit(key, region, generation)).generation

    async def commit(self, key: str, region: str, generation: int) -> CommitResult:
        """:meth:`commit_traffic` with when each zone activated it."""
        path = f"{self._scope}/switch/" + _path(region) + "/commit"
        body = CommitBody(key=key, generation=generation, lead_ms=self.commit_lead_ms)
        return await self._call("POST", path, CommitResult, body)

    async def abort_traffic(self, key: str, region: str, generation: int) -> bool:
        """Drop a staged, undecided generation everywhere; whether one was dropped."""
        path = f"{self._scope}/switch/" + _path(region) + "/abort"
        body = AbortBody(key=key, generation=generation)
        return (await self._call("POST", path, AbortResult, body)).aborted

    async def set_zone_traffic(self, key: str, region: str, zone: str, routes: RouteTable) -> int:
        """Replace one zone router's table at once, no other zone's (a per-zone update)."""
        path = f"{self._scope}/routes/" + _path(region, routes.service, "zones", zone)
        body = RoutesBody(key=key, routes=routes)
        return (await self._call("PUT", path, RoutesResult, body)).generation

    async def zonal_state(self, region: str) -> ZonalState:
        """A zonal region's zone routers as they answer now, and its latest switch."""
        return await self._call("GET", f"{self._scope}/zonal/" + _path(region), ZonalState)

    async def request_log(self, region: str, since: float = 0.0) -> list[RequestEntry]:
        """Requests the region's routers received after ``since`` (wall clock), oldest first."""
        path = f"{self._scope}/request-log/" + _path(region)
        params = {"since": repr(since)}
        return (await self._call("GET", path, RequestLogResult, params=params)).entries

    async def ping(self) -> int:
        """The agent's pid, proving it answers."""
        return (await self._call("GET", "/v1/health", AgentHealth)).pid

    async def instances(self) -> list[Instance]:
        """Every instance of the environment the agent knows, stopped ones included."""
        path = self._scope + "/instances"
        return (await self._call("GET", path, InstancesResult)).instances

    async def all_instances(self) -> list[Instance]:
        """Every instance of every environment the agent knows, stopped ones included."""
        return (await self._call("GET", "/v1/instances", InstancesResult)).instances

    async def events(self, kind: str | None = None, since: int = 0) -> list[AgentEvent]:
        """The agent's events after sequence number ``since``, optionally of one kind."""
        params: dict[str, str] = {"since": str(since)}
        if kind is not None:
            params["kind"] = kind
        return (await self._call("GET", "/v1/events", EventsResult, params=params)).events

    async def routers(self) -> dict[str, str]:
        """Each region's router URL, in the provider's environment."""
        payload = await self._request("GET", self._scope + "/routers")
        if not isinstance(payload, dict):
            raise ProviderError(f"local agent at {self.base_url} sent a malformed router list")
        return {str(region): str(url) for region, url in payload.items()}

    async def environments(self) -> dict[str, dict[str, str]]:
        """Every environment with a router on the agent, and its routers by region."""
        payload = await self._request("GET", "/v1/environments")
        if not isinstance(payload, dict):
            raise ProviderError(f"local agent at {self.base_url} sent a malformed list")
        return {
            str(env): {str(region): str(url) for region, url in routers.items()}
            for env, routers in payload.items()
        }

    async def _call(
        self,
        method: str,
        path: str,
        result: type[_Model],
        body: BaseModel | None = None,
        params: dict[str, str] | None = None,
    ) -> _Model:
        payload = await self._request(method, path, body, params)
        try:
            return result.model_validate(payload)
        except ValidationError as error:
            raise ProviderError(
                f"local agent at {self.base_url} answered {method} {path} with"
                f" an unexpected body: {error.errors()[0]['msg']}"
            ) from None

    async def _request(
        self,
        method: str,
        path: str,
        body: BaseModel | None = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        content = None if body is None else body.model_dump(mode="json")
        try:
            async with httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout) as client:
                response = await client.request(method, path, json=content, params=params)
        except httpx.TransportError as error:
            reason = str(error) or type(error).__name__
            raise AgentUnavailable(
                f"local agent at {self.base_url} did not answer: {reason}"
            ) from None
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.is_error:
            message = payload.get("error") if isinstance(payload, dict) else None
            text = message or f"local agent at {self.base_url} answered {response.status_code}"
            if response.status_code == 503:
                raise AgentUnavailable(text)
            raise ProviderError(text)
        return payload
