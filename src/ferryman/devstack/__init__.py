"""The local dev stack: Temporal dev server, ferryman worker and local platform agent."""

from ferryman.devstack.stack import (
    DevStack,
    StackConfig,
    StackInfo,
    load_info,
    serve_regions_on_dev_stack,
)

__all__ = ["DevStack", "StackConfig", "StackInfo", "load_info", "serve_regions_on_dev_stack"]
