"""Analysis templates as the plan carries them: metrics, sources, queries and judges.

These are the engine's (snake case, seconds) models; ``ferryman.spec.analysis``
converts the YAML into them. Queries may hold ``{{name}}`` placeholders
(``{{version}}``, ``{{service}}``, ``{{region}}``, ``{{zone}}``) that the
analysis activity fills with :func:`render_query` for the canary and the
baseline.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import Field

from ferryman.analysis.mann_whitney import MannWhitneyConfig
from ferryman.analysis.models import Frozen, NoDataPolicy
from ferryman.analysis.scoring import ScoreConfig
from ferryman.analysis.sequential import SequentialConfig
from ferryman.analysis.threshold import ThresholdConfig

SourceKind = Literal["local", "prometheus"]
PLACEHOLDERS = ("version", "service", "region", "zone")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_-]*)\s*\}\}")

QueryKind = Literal["requests", "errors", "error_rate", "request_rate", "latency"]


class AnalysisQuery(Frozen):
    """A source-independent query, as ``ferryman.metrics.MetricQuery`` has it.

    Kept here so that the analysis package imports no metric source (and no
    HTTP client); its fields are those of the sources' model, which validates
    its ``model_dump()`` as it is.
    """

    kind: QueryKind
    matchers: dict[str, str] = Field(default_factory=dict)
    by: tuple[str, ...] = ("version",)
    quantile: float = Field(default=0.99, ge=0, le=1)


JudgeConfig = Annotated[
    ThresholdConfig | MannWhitneyConfig | SequentialConfig, Field(discriminator="kind")
]


class MetricPlan(Frozen):
    """One metric of a template.

    Attributes:
        name: The metric's name, unique in its template.
        source: Where the numbers come from.
        query: A source-independent query, or PromQL for ``prometheus``.
        judge: How it is judged.
        interval_s: Seconds between looks (threshold, sequential) or buckets
            (mann-whitney).
        count: Looks (threshold, sequential) or buckets (mann-whitney).
    """

    name: str
    source: SourceKind
    query: AnalysisQuery | str
    judge: JudgeConfig
    interval_s: float = Field(gt=0)
    count: int = Field(ge=1)


class TemplatePlan(Frozen):
    """A whole analysis template.

    Attributes:
        name: The template's name.
        metrics: Its metrics.
        no_data: What a ``no-data`` verdict becomes.
        score: Scoring of the mann-whitney metrics.
    """

    name: str
    metrics: tuple[MetricPlan, ...]
    no_data: NoDataPolicy = "pause"
    score: ScoreConfig = ScoreConfig()


def placeholders(query: AnalysisQuery | str) -> set[str]:
    """The ``{{name}}`` placeholders a query uses."""
    texts = [query] if isinstance(query, str) else list(query.matchers.values())
    return {match.group(1) for text in texts for match in _PLACEHOLDER.finditer(text)}


def render_query(query: AnalysisQuery | str, values: Mapping[str, str]) -> AnalysisQuery | str:
    """Fill a query's placeholders, e.g. ``{"version": "v2"}`` for the canary.

    Raises:
        KeyError: If the query uses a placeholder ``values`` lacks.
    """

    def fill(text: str) -> str:
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)

    if isinstance(query, str):
        return fill(query)
    return query.model_copy(update={"matchers": {k: fill(v) for k, v in query.matchers.items()}})


def count_queries(query: AnalysisQuery) -> tuple[AnalysisQuery, AnalysisQuery]:
    """The ``requests`` and ``errors`` queries a sequential ``rates`` judge needs."""
    return query.model_copy(update={"kind": "requests"}), query.model_copy(
        update={"kind": "errors"}
    )
