"""Registering ferryman's custom search attributes on a cluster."""

from __future__ import annotations

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.service import RPCError

from ferryman.errors import DevStackError
from ferryman.temporal.names import SEARCH_ATTRIBUTES


async def register_search_attributes(client: Client, namespace: str = "default") -> None:
    """Add ``FerrymanSystem``, ``FerrymanEnv``, ``FerrymanVersion`` and ``FerrymanPhase``.

    Attributes that already exist are left as they are.

    Raises:
        DevStackError: If the cluster refuses for another reason.
    """
    request = AddSearchAttributesRequest(
        namespace=namespace,
        search_attributes={
            key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for key in SEARCH_ATTRIBUTES
        },
    )
    try:
        await client.operator_service.add_search_attributes(request)
    except RPCError as exc:
        if "already" not in str(exc).lower():
            raise DevStackError(f"cannot register search attributes: {exc}") from exc
