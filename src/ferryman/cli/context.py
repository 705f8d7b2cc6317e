"""Shared CLI plumbing: connecting to Temporal and running coroutines."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import typer
from temporalio.client import Client

from ferryman.devstack import load_info
from ferryman.devstack.stack import regions_file
from ferryman.plan.models import ReleasePlan
from ferryman.temporal.client.connection import Connection, connect
from ferryman.temporal.worker.regions import add_regions

T = TypeVar("T")

AddressOption = typer.Option(
    None, "--temporal-address", envvar="FERRYMAN_TEMPORAL_ADDRESS", help="host:port of Temporal."
)
NamespaceOption = typer.Option(
    None, "--namespace", envvar="FERRYMAN_TEMPORAL_NAMESPACE", help="Temporal namespace."
)


def connection(address: str | None, namespace: str | None) -> Connection:
    """Explicit options first, then the running dev stack, then the defaults."""
    info = load_info()
    if address is None and info is not None:
        address = info.temporal_address
        namespace = namespace or info.namespace
    return Connection.from_env(address, namespace)


async def client_for(address: str | None, namespace: str | None) -> Client:
    """A connected client (fails fast with a one-line error when nothing answers)."""
    return await connect(connection(address, namespace), wait_s=2)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from a synchronous command."""
    return asyncio.run(coro)


def serve_regions_on_dev_stack(plan: ReleasePlan) -> None:
    """Ask a running dev stack's worker to serve the plan's regions (no-op without one).

    On a real cluster, region-local ``ferryman worker --region R`` processes serve them.
    """
    info = load_info()
    if info is not None and info.alive():
        add_regions(regions_file(), [region.name for region in plan.deploy.regions])
