"""Canary analysis and A/B experiments: pure statistics, no I/O (level 7).

Judges take numbers the metric sources give and return a :class:`Judgement`
in one vocabulary (``pass``, ``fail``, ``inconclusive``, ``no-data``,
``continue``). Judges that look repeatedly keep their state in a small frozen
model the workflow passes back in.
"""

from ferryman.analysis.expressions import EvaluationError, ExpressionError, evaluate, parse
from ferryman.analysis.mann_whitney import (
    MannWhitneyConfig,
    MannWhitneyResult,
    classify_metric,
    mann_whitney,
)
from ferryman.analysis.models import (
    Judgement,
    NoDataPolicy,
    SampleSummary,
    Verdict,
    apply_no_data,
)
from ferryman.analysis.scoring import ScoreConfig, ScoredMetric, ScoreResult, score_run
from ferryman.analysis.threshold import ThresholdConfig, ThresholdState, threshold_step

__all__ = [
    "EvaluationError",
    "ExpressionError",
    "Judgement",
    "MannWhitneyConfig",
    "MannWhitneyResult",
    "NoDataPolicy",
    "SampleSummary",
    "ScoreConfig",
    "ScoreResult",
    "ScoredMetric",
    "ThresholdConfig",
    "ThresholdState",
    "Verdict",
    "apply_no_data",
    "classify_metric",
    "evaluate",
    "mann_whitney",
    "parse",
    "score_run",
    "threshold_step",
]
