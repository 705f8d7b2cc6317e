"""Bring the build history up to date from Temporal: releases' builds join ``ferryman builds``.

A ``ferryman build`` records itself when it ends; a release's build runs inside
the release and is recorded here, from what Temporal kept, the next time a
command reads the history (``builds``, ``logs``, ``provenance``, ``verify``).
Temporal is asked only when a dev stack is recorded or an address is configured,
and a cluster that does not answer only costs a note.
"""

from __future__ import annotations

import asyncio
import os

from temporalio.client import Client

from ferryman import paths
from ferryman.build.history import BuildRecord, load_records, save_record
from ferryman.cli.context import connection
from ferryman.devstack import load_info
from ferryman.errors import FerrymanError
from ferryman.temporal.client.connection import connect


def temporal_configured(address: str | None = None) -> bool:
    """Whether a Temporal cluster is worth asking: explicit, configured, or a running stack."""
    if address or os.environ.get("FERRYMAN_TEMPORAL_ADDRESS"):
        return True
    info = load_info()
    return info is not None and info.alive()


async def optional_client(
    address: str | None = None, namespace: str | None = None
) -> Client | None:
    """A client of the configured cluster, or None when none is configured or it does not answer."""
    if not temporal_configured(address):
        return None
    try:
        return await connect(connection(address, namespace), wait_s=1)
    except FerrymanError:
        return None


def sync_now(address: str | None = None, namespace: str | None = None) -> int:
    """``sync_builds`` from a synchronous command; nothing when no cluster is configured.

    Called from inside a running event loop (a command invoked in-process by
    async code), it does nothing rather than fail: the history on disk stands.
    """
    if not temporal_configured(address):
        return 0
    try:
        asyncio.get_running_loop()
    except RuntimeError:

        async def sync() -> int:
            return await sync_builds(await optional_client(address, namespace))

        return asyncio.run(sync())
    return 0


async def sync_builds(client: Client | None) -> int:
    """Record every finished build Temporal knows that the history lacks; returns how many."""
    if client is None:
        return 0
    from ferryman.temporal.client.lookups import finished_builds

    root = paths.builds_dir()
    known = {record.build_id for record in load_records(root)}
    try:
        found = await finished_builds(client, known)
    except Exception:  # the history on disk is still worth showing
        return 0
    for build in reversed(found):
        save_record(
            root,
            BuildRecord(
                build_id=build.workflow_id,
                system=build.system,
                spec_path=build.spec_path,
                started=build.started,
                finished=build.finished,
                result=build.result.model_dump(mode="json"),
            ),
        )
    return len(found)
