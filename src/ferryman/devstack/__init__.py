"""The local dev stack: Temporal dev server, ferryman worker and local platform agent."""

from ferryman.devstack.stack import DevStack, StackConfig, StackInfo, load_info

__all__ = ["DevStack", "StackConfig", "StackInfo", "load_info"]
