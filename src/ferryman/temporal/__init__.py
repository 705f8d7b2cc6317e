"""ferryman.temporal."""
