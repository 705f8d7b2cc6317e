"""Lazy package exports (PEP 562): a name is imported from its module when first used.

Importing a package then costs nothing and drags in none of its modules' own
imports, so a pure module of a package (``ferryman.metrics.base``, say) can be
imported without its HTTP client neighbours, and Temporal's sandbox gets no
copies of classes it did not ask for.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``name`` from ``exports[name]`` on first use.

    Args:
        package: The package's name, for the error message.
        exports: Exported name → the module that defines it.
    """

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    return __getattr__
