"""ferryman: a durable release engine on Temporal.

The public API is loaded lazily so that importing ``ferryman`` has no side
effects: Temporal's workflow sandbox re-imports packages, and an eager import
here would give the sandbox its own copies of the model classes.

Example::

    from ferryman import compile_plan, load_spec

    plan = compile_plan(load_spec("ferryman.yaml"), "ferryman.yaml", "dev")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "FerrymanError": "ferryman.errors",
    "SpecError": "ferryman.errors",
    "SpecIssue": "ferryman.errors",
    "PlanError": "ferryman.errors",
    "BuildError": "ferryman.errors",
    "ProviderError": "ferryman.errors",
    "Spec": "ferryman.spec.models",
    "load_spec": "ferryman.spec.load",
    "ReleasePlan": "ferryman.plan.models",
    "compile_plan": "ferryman.plan.compile",
    "Provider": "ferryman.providers.base",
    "LocalProvider": "ferryman.providers.local",
    "ArtifactStore": "ferryman.build.artifacts",
}

__all__ = [
    "ArtifactStore",
    "BuildError",
    "FerrymanError",
    "LocalProvider",
    "PlanError",
    "Provider",
    "ProviderError",
    "ReleasePlan",
    "Spec",
    "SpecError",
    "SpecIssue",
    "__version__",
    "compile_plan",
    "load_spec",
]

if TYPE_CHECKING:
    from ferryman.build.artifacts import ArtifactStore
    from ferryman.errors import (
        BuildError,
        FerrymanError,
        PlanError,
        ProviderError,
        SpecError,
        SpecIssue,
    )
    from ferryman.plan.compile import compile_plan
    from ferryman.plan.models import ReleasePlan
    from ferryman.providers.base import Provider
    from ferryman.providers.local import LocalProvider
    from ferryman.spec.load import load_spec
    from ferryman.spec.models import Spec


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ferryman' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
