"""Canary analysis and A/B experiments: pure statistics, no I/O (level 7).

Judges take numbers the metric sources give and return a :class:`Judgement`
in one vocabulary (``pass``, ``fail``, ``inconclusive``, ``no-data``,
``continue``). Judges that look repeatedly keep their state in a small frozen
model the workflow passes back in.
"""

from ferryman.analysis.evidence import (
    log_mixture,
    rate_bounds,
    rate_log_evidence,
    ratio_grid,
    ratio_log_lr,
    sign_log_evidence,
)
from ferryman.analysis.experiment import (
    Comparison,
    ExperimentConfig,
    ExperimentReport,
    Variant,
    analyze_experiment,
    report_rows,
)
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
from ferryman.analysis.sequential import (
    LatencyObservation,
    RateObservation,
    SequentialConfig,
    SequentialState,
    sequential_step,
)
from ferryman.analysis.templates import (
    AnalysisQuery,
    MetricPlan,
    TemplatePlan,
    count_queries,
    placeholders,
    render_query,
)
from ferryman.analysis.threshold import ThresholdConfig, ThresholdState, threshold_step

__all__ = [
    "AnalysisQuery",
    "Comparison",
    "EvaluationError",
    "ExperimentConfig",
    "ExperimentReport",
    "ExpressionError",
    "Judgement",
    "LatencyObservation",
    "MannWhitneyConfig",
    "MannWhitneyResult",
    "MetricPlan",
    "NoDataPolicy",
    "RateObservation",
    "SampleSummary",
    "ScoreConfig",
    "ScoreResult",
    "ScoredMetric",
    "SequentialConfig",
    "SequentialState",
    "TemplatePlan",
    "ThresholdConfig",
    "ThresholdState",
    "Variant",
    "Verdict",
    "analyze_experiment",
    "apply_no_data",
    "classify_metric",
    "count_queries",
    "evaluate",
    "log_mixture",
    "mann_whitney",
    "parse",
    "placeholders",
    "rate_bounds",
    "rate_log_evidence",
    "ratio_grid",
    "ratio_log_lr",
    "render_query",
    "report_rows",
    "score_run",
    "sequential_step",
    "sign_log_evidence",
    "threshold_step",
]
