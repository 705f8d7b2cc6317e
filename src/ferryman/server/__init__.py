"""The HTTP API: pending gates, decisions with a bearer token, Slack interactivity."""
