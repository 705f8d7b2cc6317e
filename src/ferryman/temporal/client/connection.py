"""Connecting to Temporal: where the cluster is and how to reach it."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

from temporalio.client import Client, TLSConfig
from temporalio.service import RPCError

from ferryman.errors import DevStackError
from ferryman.temporal.converter import configured_converter

DEFAULT_ADDRESS = "localhost:7233"


@dataclass(frozen=True)
class Connection:
    """Where a Temporal cluster is.

    Attributes:
        address: ``host:port`` of the frontend.
        namespace: Temporal namespace.
        tls: Whether to use TLS (with the optional client certificate below).
        tls_cert: Path to a client certificate (PEM), for mTLS.
        tls_key: Path to the client certificate's key (PEM).
        api_key: An API key (Temporal Cloud); implies TLS.
    """

    address: str = DEFAULT_ADDRESS
    namespace: str = "default"
    tls: bool = False
    tls_cert: str | None = None
    tls_key: str | None = None
    api_key: str | None = None

    @classmethod
    def from_env(
        cls,
        address: str | None = None,
        namespace: str | None = None,
        *,
        tls: bool | None = None,
        tls_cert: str | None = None,
        tls_key: str | None = None,
        api_key: str | None = None,
    ) -> Connection:
        """Explicit values first, then ``FERRYMAN_TEMPORAL_*`` variables, then defaults."""
        env = os.environ.get
        cert = tls_cert or env("FERRYMAN_TEMPORAL_TLS_CERT")
        key = api_key or env("FERRYMAN_TEMPORAL_API_KEY")
        wanted = tls if tls is not None else env("FERRYMAN_TEMPORAL_TLS", "") in {"1", "true"}
        return cls(
            address=address or env("FERRYMAN_TEMPORAL_ADDRESS") or DEFAULT_ADDRESS,
            namespace=namespace or env("FERRYMAN_TEMPORAL_NAMESPACE") or "default",
            tls=bool(cert) or bool(key) or wanted,
            tls_cert=cert,
            tls_key=tls_key or env("FERRYMAN_TEMPORAL_TLS_KEY"),
            api_key=key,
        )

    def tls_config(self) -> TLSConfig | bool:
        """The SDK's TLS setting for this connection."""
        if self.tls_cert and self.tls_key:
            with open(self.tls_cert, "rb") as cert, open(self.tls_key, "rb") as key:
                return TLSConfig(client_cert=cert.read(), client_private_key=key.read())
        return self.tls


async def connect(connection: Connection, wait_s: float = 0.0) -> Client:
    """Connect with ferryman's data converter, retrying for up to ``wait_s`` seconds.

    The converter encrypts every payload when ferryman's config has an
    ``encryption:`` section (docs/secrets.md).

    Raises:
        DevStackError: If the cluster cannot be reached in time.
        IdentityError: The config's encryption keys cannot be read.
    """
    converter = configured_converter()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        try:
            return await Client.connect(
                connection.address,
                namespace=connection.namespace,
                data_converter=converter,
                tls=connection.tls_config(),
                api_key=connection.api_key,
            )
        except (RPCError, RuntimeError, OSError) as exc:
            if loop.time() >= deadline:
                reason = "connection refused" if "refused" in str(exc).lower() else str(exc)
                raise DevStackError(
                    f"cannot reach Temporal at {connection.address}: {reason} "
                    "(is `ferryman dev` running? or pass --temporal-address)"
                ) from exc
            await asyncio.sleep(0.25)
