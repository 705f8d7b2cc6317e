"""ferryman.temporal.activities."""
