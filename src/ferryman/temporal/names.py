"""Task queues, workflow ids and search attribute keys: the names ferryman agrees on."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

TASK_QUEUE = "ferryman"
BUILD_TASK_QUEUE = "ferryman-build"

SYSTEM = SearchAttributeKey.for_keyword("FerrymanSystem")
ENV = SearchAttributeKey.for_keyword("FerrymanEnv")
VERSION = SearchAttributeKey.for_keyword("FerrymanVersion")
PHASE = SearchAttributeKey.for_keyword("FerrymanPhase")
SEARCH_ATTRIBUTES = (SYSTEM, ENV, VERSION, PHASE)


def release_id(system: str, environment: str, seq: int) -> str:
    """The workflow id of a release: ``release/<system>/<env>/<seq>``."""
    return f"release/{system}/{environment}/{seq}"


def build_id(release: str) -> str:
    """The workflow id of a release's build child."""
    return f"{release}/build"


REGION_QUEUE_PREFIX = "ferryman-region-"


def region_task_queue(region: str, prefix: str = REGION_QUEUE_PREFIX) -> str:
    """The task queue of a region's provider activities: ``ferryman-region-<region>``."""
    return f"{prefix}{region}"


def region_deploy_id(release: str, region: str) -> str:
    """The workflow id of a release's deploy to one region."""
    return f"{release}/region/{region}"
