"""Task queues, workflow ids and search attribute keys: the names ferryman agrees on.

Every queue derives from the *central* queue a release runs on (``ferryman`` by
default, a private one in tests): builds go to ``<central>-build`` (or
``<central>-build-<platform>`` for legs built by their platform's own
workers), a region's provider activities to ``<central>-region-<region>``, so
a region-local worker serves exactly its region.
"""

from __future__ import annotations

import re

from temporalio.common import SearchAttributeKey

TASK_QUEUE = "ferryman"

SYSTEM = SearchAttributeKey.for_keyword("FerrymanSystem")
ENV = SearchAttributeKey.for_keyword("FerrymanEnv")
VERSION = SearchAttributeKey.for_keyword("FerrymanVersion")
PHASE = SearchAttributeKey.for_keyword("FerrymanPhase")
SEARCH_ATTRIBUTES = (SYSTEM, ENV, VERSION, PHASE)


def build_task_queue(central: str = TASK_QUEUE, runs_on: str = "") -> str:
    """The queue of build activities: ``ferryman-build`` or ``ferryman-build-linux-arm64``."""
    suffix = re.sub(r"[^a-z0-9]+", "-", runs_on.lower()).strip("-")
    return f"{central}-build" + (f"-{suffix}" if suffix else "")


def region_task_queue(region: str, central: str = TASK_QUEUE) -> str:
    """The queue of a region's provider activities: ``ferryman-region-<region>``."""
    return f"{central}-region-{region}"


def release_id(system: str, environment: str, seq: int) -> str:
    """The workflow id of a release: ``release/<system>/<env>/<seq>``."""
    return f"release/{system}/{environment}/{seq}"


def lock_id(system: str, environment: str, central: str = TASK_QUEUE) -> str:
    """The workflow id of the lock letting one release at a time into an environment.

    The central queue is part of it: the lock runs there, and releases started on
    another queue (a test's private one) are another ferryman installation.
    """
    return f"lock/{central}/{system}/{environment}"


def build_id(release: str) -> str:
    """The workflow id of a release's build child."""
    return f"{release}/build"


def region_deploy_id(release: str, region: str, action: str = "switch") -> str:
    """The workflow id of a release's deploy to one region: ``…/region/<r>[/<action>]``."""
    suffix = "" if action == "switch" else f"/{action}"
    return f"{release}/region/{region}{suffix}"
