"""The local platform: an agent process running instances and routers, and its client."""

from ferryman.providers.local.client import LocalProvider
from ferryman.providers.local.wire import AgentEvent

__all__ = ["AgentEvent", "LocalProvider"]
