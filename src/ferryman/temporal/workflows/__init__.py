"""ferryman.temporal.workflows."""
