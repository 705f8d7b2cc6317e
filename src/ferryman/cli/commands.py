"""Imports every CLI noun module so that each registers its commands on ``app``.

A new ``ferryman/cli/<noun>.py`` that decorates functions with ``@app.command()``
is picked up without editing this file.
"""

from __future__ import annotations

import importlib
import pkgutil

import ferryman.cli
from ferryman.cli import help_view

_NOT_NOUNS = {"app", "commands", "context", "live"}


def register_all() -> None:
    """Import every noun module of ``ferryman.cli``."""
    for module in pkgutil.iter_modules(ferryman.cli.__path__):
        if module.name not in _NOT_NOUNS and not module.name.endswith("_view"):
            importlib.import_module(f"ferryman.cli.{module.name}")


register_all()
help_view.install()
