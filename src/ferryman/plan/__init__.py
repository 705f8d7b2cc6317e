"""ferryman.plan."""
