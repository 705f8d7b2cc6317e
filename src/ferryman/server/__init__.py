"""The HTTP API (``ferryman server``): pending gates, decisions with a bearer token, Slack.

``create_app`` builds a FastAPI app from routers (``routes/``), so the
dashboard can add its own. Authentication happens here (a bearer token →
a user of the ferryman config); the workflow applies the gate's policy.
"""

from ferryman.server.app import ServerSettings, create_app

__all__ = ["ServerSettings", "create_app"]
