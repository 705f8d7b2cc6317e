"""The build runtime: checkouts, build steps, step logs and the artifact store.

Plain Python with no Temporal dependency; the build activities call these, and
every function is idempotent so that a retried or replayed activity returns
the recorded result instead of repeating the work.
"""

from ferryman.build.artifacts import ArtifactStore, Bundle, FileEntry
from ferryman.build.checkout import MARKER_NAME, Checkout, checkout
from ferryman.build.logs import list_logs, read_log, step_log_path
from ferryman.build.steps import StepResult, run_step

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
