"""ferryman.providers."""
