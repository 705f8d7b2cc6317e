"""Region deploy requests for tests and benchmarks that drive ``RegionDeployWorkflow`` directly."""

from __future__ import annotations

import uuid

from ferryman.deploy.strategies import BlueGreenOptions
from ferryman.plan.models import ServicePlan
from ferryman.temporal.models.region import RegionDeployRequest, ServiceRollout


def one_service_deploy(
    service: ServicePlan,
    version: str,
    digest: str,
    *,
    platform: str,
    region: str,
    zones: tuple[str, ...],
    options: dict[str, object] | None = None,
    environment: str = "test",
    finalize_now: bool = True,
) -> RegionDeployRequest:
    """A switch of one service in one region under a fresh release id, blue-green.

    Args:
        service: What to run and how to check it.
        version: The version label to deploy.
        digest: The artifact bundle the instances run.
        platform: Provider name.
        region: Region to deploy to.
        zones: Its zones.
        options: Blue-green options by field name; defaults otherwise.
        environment: The environment the region belongs to.
        finalize_now: Retire the old version right after the switch, as a
            release with nothing after this region would.
    """
    strategy = BlueGreenOptions.model_validate(options or {})
    return RegionDeployRequest(
        release_id=f"release/test/{region}/{uuid.uuid4()}",
        platform=platform,
        environment=environment,
        region=region,
        zones=zones,
        services=(
            ServiceRollout(
                service=service.model_copy(update={"strategy": strategy}),
                version=version,
                artifact_digest=digest,
            ),
        ),
        finalize_now=finalize_now,
    )
