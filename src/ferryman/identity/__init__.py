"""Who is who: ferryman's users, groups and API tokens.

``models`` and ``tokens`` are pure (a ``Directory`` of users and groups, salted
token hashes); ``config`` reads and writes ``$FERRYMAN_HOME/config.yaml``.
"""

from ferryman.identity.models import (
    DashboardSettings,
    Directory,
    EncryptionSettings,
    KeySource,
    SlackSettings,
    User,
)
from ferryman.identity.tokens import hash_token, new_token, verify_token

__all__ = [
    "DashboardSettings",
    "Directory",
    "EncryptionSettings",
    "KeySource",
    "SlackSettings",
    "User",
    "hash_token",
    "new_token",
    "verify_token",
]
