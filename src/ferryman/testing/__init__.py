"""Helpers for testing ferryman and the systems it releases.

``ferryman.testing`` starts real parts (a Temporal dev server from the
installed ``temporal`` binary, the local agent as its own process) so tests
prove behaviour against the components a user runs.
"""

from ferryman.testing.processes import AgentProcess, TemporalDevServer, free_port

__all__ = ["AgentProcess", "TemporalDevServer", "free_port"]
