"""Load generation through routers: sticky users, accurate pacing, per-version statistics."""

from ferryman.traffic.generator import Answer, LoadConfig, run_load
from ferryman.traffic.pacing import Pacer
from ferryman.traffic.stats import LoadStats, VersionStats, percentile

__all__ = [
    "Answer",
    "LoadConfig",
    "LoadStats",
    "Pacer",
    "VersionStats",
    "percentile",
    "run_load",
]
