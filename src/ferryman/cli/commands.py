"""Imports every CLI noun module so that each registers its commands on ``app``."""

from ferryman.cli import dev, logs, plan, release, validate  # noqa: F401
