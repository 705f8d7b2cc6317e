"""Imports every CLI noun module so that each registers its commands on ``app``."""

from ferryman.cli import validate  # noqa: F401
