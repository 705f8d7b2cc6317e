"""ferryman.deploy."""
