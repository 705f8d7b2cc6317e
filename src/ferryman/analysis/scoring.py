"""Kayenta-style scoring: metric judgements → a 0–100 score → one verdict.

Within a group the score is the share of counted metrics that passed; the run
score is the weighted mean of the group scores (equal weights unless given).
Muted metrics and metrics without data are not counted, but stay in the
record. A failing critical metric fails the run whatever the score; a critical
metric without data makes the run ``no-data``, and so does a run in which no
counted metric had data. Otherwise the score passes at ``pass_score``, is
inconclusive (a human decides) from ``marginal_score``, and fails below.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field, model_validator

from ferryman.analysis.models import Frozen, Judgement, Verdict


class ScoreConfig(Frozen):
    """Score thresholds and group weights.

    Attributes:
        pass_score: Lowest passing score.
        marginal_score: Lowest score that is inconclusive rather than failing.
        group_weights: Weight of each metric group; empty means equal weights.
            When given, every group must be listed.
    """

    pass_score: float = Field(default=75.0, ge=0, le=100)
    marginal_score: float = Field(default=50.0, ge=0, le=100)
    group_weights: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _order(self) -> ScoreConfig:
        if self.marginal_score > self.pass_score:
            raise ValueError(
                f"marginal score {self.marginal_score:g} is above pass score {self.pass_score:g}"
            )
        for group, weight in self.group_weights.items():
            if weight < 0:
                raise ValueError(f"group {group!r} has a negative weight {weight:g}")
        return self


class ScoredMetric(Frozen):
    """A metric's judgement with what scoring needs to know about it."""

    judgement: Judgement
    group: str = "default"
    muted: bool = False


class ScoreResult(Frozen):
    """The run's score and verdict.

    Attributes:
        score: 0–100, ``None`` when nothing could be counted.
        group_scores: Score of each group that had data.
        judgement: The run's judgement (metric ``score``).
        metrics: Every metric's judgement, muted ones included.
    """

    score: float | None
    group_scores: dict[str, float]
    judgement: Judgement
    metrics: tuple[Judgement, ...]


def score_run(metrics: Sequence[ScoredMetric], config: ScoreConfig | None = None) -> ScoreResult:
    """Score metric judgements and decide the run.

    Args:
        metrics: Each metric's judgement, group and mute flag.
        config: Thresholds and weights; defaults to pass 75, marginal 50.

    Raises:
        ValueError: If weights are given but a group of ``metrics`` has none.
    """
    config = config or ScoreConfig()
    counted = [m for m in metrics if not m.muted]
    groups: dict[str, list[Judgement]] = {}
    for m in counted:
        groups.setdefault(m.group, []).append(m.judgement)
    missing = sorted(set(groups) - set(config.group_weights))
    if config.group_weights and missing:
        raise ValueError(f"no weight for metric group {', '.join(map(repr, missing))}")
    group_scores: dict[str, float] = {}
    for group, judgements in groups.items():
        decided = [j for j in judgements if j.verdict in ("pass", "fail")]
        if decided:
            passed = sum(j.verdict == "pass" for j in decided)
            group_scores[group] = 100.0 * passed / len(decided)
    weights = {g: config.group_weights.get(g, 1.0) for g in group_scores}
    total = sum(weights.values())
    score = sum(group_scores[g] * weights[g] for g in group_scores) / total if total > 0 else None
    verdict, reason = _decide(counted, score, config)
    judgement = Judgement(
        metric="score",
        judge="score",
        verdict=verdict,
        statistics={"score": score} if score is not None else {},
        reason=reason,
    )
    return ScoreResult(
        score=score,
        group_scores=group_scores,
        judgement=judgement,
        metrics=tuple(m.judgement for m in metrics),
    )


def _decide(
    counted: Sequence[ScoredMetric], score: float | None, config: ScoreConfig
) -> tuple[Verdict, str]:
    critical_failed = [
        m.judgement.metric
        for m in counted
        if m.judgement.critical and m.judgement.verdict == "fail"
    ]
    if critical_failed:
        return "fail", f"critical metric {', '.join(critical_failed)} failed"
    critical_blind = [
        m.judgement.metric
        for m in counted
        if m.judgement.critical and m.judgement.verdict == "no-data"
    ]
    if critical_blind:
        return "no-data", f"critical metric {', '.join(critical_blind)} had no data"
    if score is None:
        return "no-data", "no counted metric had data"
    failed = [m.judgement.metric for m in counted if m.judgement.verdict == "fail"]
    blind = [m.judgement.metric for m in counted if m.judgement.verdict == "no-data"]
    detail = f"; failed: {', '.join(failed)}" if failed else ""
    detail += f"; no data: {', '.join(blind)}" if blind else ""
    if score >= config.pass_score:
        return "pass", f"score {score:.0f} ≥ pass {config.pass_score:g}{detail}"
    if score >= config.marginal_score:
        return "inconclusive", (
            f"score {score:.0f} between marginal {config.marginal_score:g}"
            f" and pass {config.pass_score:g}{detail}"
        )
    return "fail", f"score {score:.0f} < marginal {config.marginal_score:g}{detail}"
