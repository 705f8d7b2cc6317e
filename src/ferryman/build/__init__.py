"""The build runtime: checkouts, build steps, step logs and the artifact store.

Plain Python with no Temporal dependency; the build activities call these, and
every function is idempotent so that a retried or replayed activity returns
the recorded result instead of repeating the work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ferryman._lazy import lazy_exports

# Imported eagerly: the function ``checkout`` shares its name with its module, and
# importing the module (as ``artifacts`` does) would otherwise shadow the lazy export.
from ferryman.build.checkout import MARKER_NAME, Checkout, checkout

_EXPORTS = {
    "ArtifactStore": "ferryman.build.artifacts",
    "Bundle": "ferryman.build.artifacts",
    "FileEntry": "ferryman.build.artifacts",
    "list_logs": "ferryman.build.logs",
    "read_log": "ferryman.build.logs",
    "step_log_path": "ferryman.build.logs",
    "StepResult": "ferryman.build.steps",
    "run_step": "ferryman.build.steps",
}

__all__ = [
    "MARKER_NAME",
    "ArtifactStore",
    "Bundle",
    "Checkout",
    "FileEntry",
    "StepResult",
    "checkout",
    "list_logs",
    "read_log",
    "run_step",
    "step_log_path",
]

if TYPE_CHECKING:
    from ferryman.build.artifacts import ArtifactStore, Bundle, FileEntry
    from ferryman.build.logs import list_logs, read_log, step_log_path
    from ferryman.build.steps import StepResult, run_step

__getattr__ = lazy_exports("ferryman.build", _EXPORTS)
