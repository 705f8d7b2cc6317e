"""ferryman.cli."""
