"""Region deploy requests for tests and benchmarks that drive ``RegionDeployWorkflow`` directly."""

from __future__ import annotations

import uuid

from ferryman.deploy.bluegreen import BlueGreenOptions
from ferryman.plan.models import ServicePlan
from ferryman.temporal.deploy_models import RegionDeployRequest, ServiceRollout


def one_service_deploy(
    service: ServicePlan,
    version: str,
    digest: str,
    *,
    platform: str,
    region: str,
    zones: tuple[str, ...],
    queue_prefix: str,
    options: dict[str, object] | None = None,
) -> RegionDeployRequest:
    """A deploy of one service to one region under a fresh release id.

    Args:
        service: What to run and how to check it.
        version: The version label to deploy.
        digest: The artifact bundle the instances run.
        platform: Provider name.
        region: Region to deploy to.
        zones: Its zones.
        queue_prefix: Prefix of the region's task queue (``<prefix><region>``).
        options: Blue-green options by field name; defaults otherwise.
    """
    return RegionDeployRequest(
        release_id=f"release/test/{region}/{uuid.uuid4()}",
        platform=platform,
        region=region,
        zones=zones,
        services=(
            ServiceRollout(
                service=service,
                version=version,
                artifact_digest=digest,
                options=BlueGreenOptions.model_validate(options or {}),
            ),
        ),
        region_queue_prefix=queue_prefix,
    )
