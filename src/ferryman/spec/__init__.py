"""ferryman.spec."""
