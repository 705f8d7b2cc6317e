"""Shared CLI plumbing: connecting to Temporal and running coroutines."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import typer
from temporalio.client import Client

from ferryman.devstack import load_info
from ferryman.temporal.client.connection import Connection, connect

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
