"""Client-side code: connecting to Temporal, starting and finding releases, sending decisions."""
