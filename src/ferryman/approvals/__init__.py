"""Approval gates (pure): who may decide (``policy``), what happened (``audit``), views."""
