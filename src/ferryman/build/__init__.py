"""The build runtime: checkouts, build steps, step logs and the artifact store.

Plain Python with no Temporal dependency; the build activities call these, and
every function is idempotent so that a retried or replayed activity returns
the recorded result instead of repeating the work.

``ferryman.build.checkout`` is the checkout module (its function is
``ferryman.build.checkout.checkout``): a lazily exported name equal to a
submodule's would be replaced by the submodule as soon as it is imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ferryman._lazy import lazy_exports

_EXPORTS = {
    "ArtifactStore": "ferryman.build.artifacts",
    "Bundle": "ferryman.build.artifacts",
    "FileEntry": "ferryman.build.artifacts",
    "MARKER_NAME": "ferryman.build.checkout",
    "Checkout": "ferryman.build.checkout",
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
    "list_logs",
    "read_log",
    "run_step",
    "step_log_path",
]

if TYPE_CHECKING:
    from ferryman.build.artifacts import ArtifactStore, Bundle, FileEntry
    from ferryman.build.checkout import MARKER_NAME, Checkout
    from ferryman.build.logs import list_logs, read_log, step_log_path
    from ferryman.build.steps import StepResult, run_step

__getattr__ = lazy_exports("ferryman.build", _EXPORTS)
