"""The platform vocabulary: instances, health, route tables and how they are checked (pure)."""
