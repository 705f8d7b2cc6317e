"""Compile the ``canary`` and ``experiment`` strategies into plan options (pure).

Template names are resolved here, once: the plan's canary steps carry the
whole templates, so workflows never read the spec's ``analysis`` section.
"""

from __future__ import annotations

from collections.abc import Mapping

from ferryman.analysis.experiment import ExperimentConfig
from ferryman.analysis.runs import ExperimentPlan
from ferryman.analysis.templates import TemplatePlan
from ferryman.deploy.steps import PreviewMatch
from ferryman.deploy.strategies.canary import (
    AnalysisStep,
    CanaryOptions,
    CanaryStep,
    HeaderRoute,
    MirrorStep,
    PauseStep,
    SetWeight,
)
from ferryman.deploy.strategies.experiment import ExperimentOptions
from ferryman.errors import PlanError
from ferryman.spec.progressive import CanarySpec, CanaryStepSpec, ExperimentSpec, Segment


def canary_options(spec: CanarySpec, templates: Mapping[str, TemplatePlan]) -> CanaryOptions:
    """The plan's options for a ``canary`` strategy.

    Raises:
        PlanError: A step names a template ``templates`` lacks (validation reports it first).
    """
    return CanaryOptions(
        steps=tuple(_step(step, templates) for step in spec.steps),
        baseline=spec.baseline,
        on_no_data=spec.on_no_data,
        progress_deadline_s=spec.progress_deadline,
        scale_down_delay_s=spec.scale_down_delay,
    )


def _step(step: CanaryStepSpec, templates: Mapping[str, TemplatePlan]) -> CanaryStep:
    if step.set_weight is not None:
        return SetWeight(weight=step.set_weight)
    if step.pause is not None:
        return PauseStep(seconds=step.pause.duration)
    if step.analysis is not None:
        missing = [name for name in step.analysis.templates if name not in templates]
        if missing:
            known = ", ".join(sorted(templates)) or "none"
            raise PlanError(f"unknown analysis template {missing[0]!r} (known: {known})")
        return AnalysisStep(
            templates=tuple(templates[name] for name in step.analysis.templates),
            interval_s=step.analysis.interval,
            count=step.analysis.count,
        )
    if step.set_header_route is not None:
        return HeaderRoute(match=_match(step.set_header_route))
    assert step.set_mirror is not None
    return MirrorStep(percent=step.set_mirror.percent)


def _match(segment: Segment) -> PreviewMatch:
    return PreviewMatch(header=segment.header, cookie=segment.cookie, value=segment.value)


def experiment_options(spec: ExperimentSpec) -> ExperimentOptions:
    """The plan's options for an ``experiment`` strategy."""
    metric = spec.metric
    return ExperimentOptions(
        percent=spec.percent,
        segment=_match(spec.segment) if spec.segment is not None else None,
        plan=ExperimentPlan(
            source=metric.source,
            exposures=metric.exposures,
            conversions=metric.conversions,
            matchers=dict(metric.matchers),
            config=ExperimentConfig(
                alpha=spec.alpha, stopping=spec.stopping, equivalence=spec.equivalence
            ),
            min_exposures=spec.min_exposures,
            interval_s=spec.interval,
            count=spec.count,
            no_data=spec.on_no_data,
        ),
        progress_deadline_s=spec.progress_deadline,
        scale_down_delay_s=spec.scale_down_delay,
    )
