"""Inputs and results of the analysis activities, and the judgements a region deploy records."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from ferryman.analysis.models import Judgement
from ferryman.analysis.runs import ExperimentPlan, ExperimentState, MetricState, Sides
from ferryman.analysis.templates import MetricPlan
from ferryman.temporal.models.region import Where


class _Msg(BaseModel):
    model_config = ConfigDict(frozen=True)


class MetricJob(_Msg):
    """One metric to look at now, with the state the workflow kept for it."""

    key: str
    metric: MetricPlan
    state: MetricState


class AnalyzeInput(Where):
    """Look at some metrics of a canary's analysis run once."""

    region: str
    service: str
    sides: Sides
    jobs: tuple[MetricJob, ...]


class AnalyzeOutput(_Msg):
    """The metrics' new states (each with its latest judgement), in the order asked."""

    states: tuple[MetricState, ...]


class ExperimentInput(Where):
    """Look at an experiment once."""

    region: str
    service: str
    control: str
    treatment: str
    plan: ExperimentPlan
    state: ExperimentState


class AnalysisRecord(_Msg):
    """One judgement, as a region deploy keeps it for ``ferryman status`` and reports.

    Attributes:
        at: When (workflow time, ISO 8601).
        service: The service judged.
        step: The step it belongs to, e.g. ``analysis at 5%`` or ``experiment``.
        key: ``<template>/<metric>``, ``run`` for a run's verdict, or ``conversion``.
        judgement: Verdict, summaries of both sides, statistics and reason.
    """

    at: str
    service: str
    step: str
    key: str
    judgement: Judgement


class AnalysisView(_Msg):
    """Answer of a region deploy's ``analysis`` query: every judgement so far, oldest first."""

    region: str
    records: tuple[AnalysisRecord, ...] = ()
