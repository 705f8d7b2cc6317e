"""``ReleaseWorkflow``: interprets the release's steps, and undoes them as a saga.

The steps come from ``ferryman.plan.release``: a ``BuildWorkflow`` child
(``<release>/build``), then each wave of regions switched at once (one
``RegionDeployWorkflow`` child per region, ``<release>/region/<name>``; the old
versions stay warm), the wave's bake, and the finalize that retires old
versions (``…/region/<name>/finalize``) once the release no longer needs them.

If a region fails, or someone asks for a ``rollback`` (an Update), the regions
still switching are cancelled, which puts each of them back, and every region
already switched is restored from its recorded state (``…/region/<name>/restore``),
the last wave first. A failure then fails the release with its cause; a
rollback ends it ``rolled-back``.

Approval gates (``ferryman.temporal.workflows.gates``) are steps too: the
release waits in phase ``awaiting-approval`` and takes ``decide`` Updates; a
rejected gate (or a region's rejected promotion gate) restores what was
deployed before it and ends the release ``rejected``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    ChildWorkflowError,
)

with workflow.unsafe.imports_passed_through():
    from ferryman.approvals.audit import AuditEvent
    from ferryman.approvals.policy import GateDecision, describe_close
    from ferryman.approvals.views import GateView
    from ferryman.plan.models import GatePlan, ReleasePlan
    from ferryman.plan.release import (
        Bake,
        BuildStep,
        DeployWave,
        Finalize,
        Gate,
        ReleaseStep,
        compensation,
        release_steps,
    )
    from ferryman.plan.version import derive_version
    from ferryman.temporal.failures import failure_message
    from ferryman.temporal.models.build import BuildRequest, BuildResult
    from ferryman.temporal.models.region import (
        Decision,
        RegionAction,
        RegionDeployRequest,
        RegionResult,
        ServiceRollout,
    )
    from ferryman.temporal.models.release import (
        FINISHED_PHASES,
        RegionState,
        ReleaseEvent,
        ReleasePhase,
        ReleaseProgress,
        ReleaseResult,
        ReleaseStatus,
    )
    from ferryman.temporal.names import ENV, PHASE, SYSTEM, VERSION, build_id, region_deploy_id
    from ferryman.temporal.workflows.build import BuildWorkflow
    from ferryman.temporal.workflows.gates import GateKeeper, rejection_of
    from ferryman.temporal.workflows.region import RegionDeployWorkflow
    from ferryman.temporal.workflows.saga import settle, was_cancelled

FAILURES = (ActivityError, ApplicationError, ChildWorkflowError)


class RollbackRequested(Exception):
    """Raised inside the workflow when a ``rollback`` Update interrupts the release."""


class GateRejected(Exception):
    """Raised inside the workflow when a gate is rejected (or its timeout rejects it)."""


@workflow.defn(name="ferryman.Release")
class ReleaseWorkflow:
    """Interprets a ``ReleasePlan``: build, waves of regions, finalize; a saga on failure."""

    def __init__(self) -> None:
        self._id = ""
        self._plan: ReleasePlan | None = None
        self._phase: ReleasePhase = "pending"
        self._version = ""
        self._nodes: dict[str, str] = {}
        self._regions: dict[str, RegionState] = {}
        self._events: list[ReleaseEvent] = []
        self._routers: dict[str, str] = {}
        self._error = ""
        self._results: dict[str, RegionResult] = {}
        self._touched: list[tuple[int, str]] = []
        self._rollouts: tuple[ServiceRollout, ...] = ()
        self._rollback: Decision | None = None
        self._committed = False
        self._restored: list[str] = []
        self._gates = GateKeeper()

    # --- humans ---------------------------------------------------------------------------------

    @workflow.query(name="progress")
    def progress(self) -> ReleaseProgress:
        """The live state of this release; each region's detail is its child's query."""
        plan = self._plan
        return ReleaseProgress(
            release_id=self._id,
            system=plan.system if plan else "",
            environment=plan.environment if plan else "",
            phase=self._phase,
            version=self._version,
            nodes=dict(self._nodes),
            waves=tuple(w.regions for w in plan.deploy.ordered_waves()) if plan else (),
            regions=dict(self._regions),
            events=tuple(self._events),
            router_urls=dict(self._routers),
            error=self._error,
        )

    @workflow.update
    async def rollback(self, decision: Decision) -> str:
        """Put back every region the release touched; answers once they are back."""
        self._rollback = decision
        await workflow.wait_condition(lambda: self._phase in FINISHED_PHASES)
        restored = self._restored
        where = f"restored {', '.join(restored)}" if restored else "no region was touched"
        return f"{self._id}: {self._phase} ({where}; asked by {decision.by})"

    @rollback.validator
    def _check_rollback(self, decision: Decision) -> None:
        if self._phase in FINISHED_PHASES:
            raise ValueError(
                f"{self._id} already finished ({self._phase}); release the previous version "
                "to go back"
            )
        if self._committed:
            raise ValueError(f"{self._id} already committed; it is retiring the old versions")
        if self._rollback is not None:
            raise ValueError(f"{self._id} is already rolling back (asked by {self._rollback.by})")

    @workflow.update
    def decide(self, decision: GateDecision) -> str:
        """Approve or reject a gate of this release (the validator applies its policy)."""
        return self._gates.decide(decision)

    @decide.validator
    def _check_decide(self, decision: GateDecision) -> None:
        self._gates.validate(decision)

    @workflow.query
    def audit(self) -> tuple[AuditEvent, ...]:
        """Every event of this release's gates (promotion gates: ask the region deploys)."""
        return self._gates.audit()

    @workflow.query
    def gates(self) -> tuple[GateView, ...]:
        """This release's gates and where each stands."""
        return self._gates.views(only_open=False)

    # --- the run --------------------------------------------------------------------------------

    @workflow.run
    async def run(self, plan: ReleasePlan) -> ReleaseResult:
        """Carry out the plan's steps; undo what was done on failure or rollback."""
        self._id = workflow.info().workflow_id
        self._plan = plan
        self._nodes = {node.id: "pending" for node in plan.build.nodes}
        self._regions = {region.name: "pending" for region in plan.deploy.regions}
        workflow.upsert_search_attributes(
            [SYSTEM.value_set(plan.system), ENV.value_set(plan.environment)]
        )
        self._gates.setup(
            [gate for gate in plan.deploy.gates if gate.at != "promotion"],
            release_id=self._id,
            requested_by=plan.requested_by,
            environment=plan.environment,
        )
        build: BuildResult | None = None
        steps = release_steps(plan.deploy)
        try:
            for index, step in enumerate(steps):
                if self._rollback is not None:
                    raise RollbackRequested
                self._committed = isinstance(step, Finalize) and index == len(steps) - 1
                build = await self._step(plan, step) or build
        except RollbackRequested:
            assert self._rollback is not None
            self._log(f"rollback asked by {self._rollback.by}: {self._rollback.reason}")
            await self._undo()
            self._set_phase("rolled-back")
            return await self._finish("rolled-back", build)
        except GateRejected as exc:
            return await self._rejected(str(exc), build)
        except (*FAILURES, asyncio.CancelledError) as exc:
            rejection = None if isinstance(exc, asyncio.CancelledError) else rejection_of(exc)
            if rejection is not None:
                return await self._rejected(rejection, build)
            reason = (
                "cancelled" if isinstance(exc, asyncio.CancelledError) else failure_message(exc)
            )
            self._error = reason
            self._log(f"release failed: {reason}")
            if not self._committed:
                await self._undo()
            self._set_phase("failed")
            await workflow.wait_condition(workflow.all_handlers_finished)
            if isinstance(exc, asyncio.CancelledError):
                raise
            also = f"; restored {', '.join(self._restored)}" if self._restored else ""
            raise ApplicationError(f"{reason}{also}", non_retryable=True) from exc
        self._set_phase("done")
        self._log("release complete")
        touched = [r for r in self._results.values() if r.status != "unchanged"]
        status: ReleaseStatus = "succeeded" if touched or not self._results else "unchanged"
        return await self._finish(status, build)

    async def _step(self, plan: ReleasePlan, step: ReleaseStep) -> BuildResult | None:
        if isinstance(step, BuildStep):
            build = await self._interruptible(self._build(plan))
            self._rollouts = self._service_rollouts(plan, build)
            return build
        if isinstance(step, DeployWave):
            await self._deploy_wave(plan, step)
        elif isinstance(step, Bake):
            self._set_phase("bake")
            self._log(f"wave {step.wave + 1} baking for {step.seconds:g}s")
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: self._rollback is not None, timeout=timedelta(seconds=step.seconds)
                )
        elif isinstance(step, Finalize):
            await self._finalize(plan, step.regions)
        elif isinstance(step, Gate):
            await self._gate(step.gate)
        return None

    async def _gate(self, gate: GatePlan) -> None:
        self._set_phase("awaiting-approval")
        self._log(f"gate {gate.name} ({gate.point}) waits for {gate.required} approval(s)")
        status = await self._gates.hold(
            gate.name, lambda: self._rollback is not None, self._version
        )
        outcome = describe_close(self._gates.state(gate.name))
        if status == "cancelled":
            raise RollbackRequested
        if status != "approved":
            raise GateRejected(f"gate {gate.name} {outcome}")
        self._log(f"gate {gate.name} passed: {outcome}")
        self._memo()

    async def _rejected(self, reason: str, build: BuildResult | None) -> ReleaseResult:
        self._error = reason
        self._log(f"release rejected: {reason}")
        await self._undo()
        self._set_phase("rejected")
        return await self._finish("rejected", build)

    async def _finish(self, status: ReleaseStatus, build: BuildResult | None) -> ReleaseResult:
        await workflow.wait_condition(workflow.all_handlers_finished)
        return ReleaseResult(
            release_id=self._id,
            version=self._version,
            status=status,
            build=build,
            regions=dict(self._results),
            router_urls=dict(self._routers),
            error=self._error,
        )

    async def _interruptible(self, work: Awaitable[BuildResult]) -> BuildResult:
        task = asyncio.ensure_future(work)
        await workflow.wait_condition(lambda: task.done() or self._rollback is not None)
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, *FAILURES):
                await task
            raise RollbackRequested
        return task.result()

    # --- build ----------------------------------------------------------------------------------

    async def _build(self, plan: ReleasePlan) -> BuildResult:
        self._set_phase("build")
        self._log(f"building {len(plan.build.nodes)} node(s)")
        self._nodes = {node.id: "running" for node in plan.build.nodes}
        build = await workflow.execute_child_workflow(
            BuildWorkflow.run,
            BuildRequest(run_id=self._id, plan=plan.build),
            id=build_id(self._id),
        )
        self._nodes = {
            node_id: "cached" if node.cached else node.status
            for node_id, node in build.nodes.items()
        }
        if not build.succeeded:
            reasons = "; ".join(
                f"{node.id} {node.status}: {node.error}"
                for node in build.nodes.values()
                if node.status != "succeeded"
            )
            raise ApplicationError(f"build failed: {reasons}", non_retryable=True)
        self._log("build succeeded")
        return build

    def _service_rollouts(
        self, plan: ReleasePlan, build: BuildResult
    ) -> tuple[ServiceRollout, ...]:
        rollouts = []
        for service in plan.deploy.services:
            node = build.nodes[service.artifact_node]
            assert node.artifact is not None
            rollouts.append(
                ServiceRollout(
                    service=service,
                    version=plan.version or derive_version(node.commit),
                    artifact_digest=node.artifact.digest,
                )
            )
        self._version = plan.version or (rollouts[0].version if rollouts else "")
        if self._version:
            workflow.upsert_search_attributes([VERSION.value_set(self._version)])
        return tuple(rollouts)

    # --- regions --------------------------------------------------------------------------------

    def _region_child(
        self, plan: ReleasePlan, region: str, action: RegionAction, **fields: Any
    ) -> Awaitable[RegionResult]:
        zones = plan.deploy.region(region).zones
        request = RegionDeployRequest(
            release_id=self._id,
            platform=plan.deploy.platform,
            environment=plan.environment,
            region=region,
            zones=zones,
            action=action,
            promotion_gate=plan.deploy.gate_at("promotion"),
            requested_by=plan.requested_by,
            **fields,
        )
        attributes = [
            SearchAttributePair(SYSTEM, plan.system),
            SearchAttributePair(ENV, plan.environment),
            SearchAttributePair(PHASE, action),
        ]
        return workflow.execute_child_workflow(
            RegionDeployWorkflow.run,
            request,
            id=region_deploy_id(self._id, region, action),
            static_summary=f"{action} {region}",
            search_attributes=TypedSearchAttributes(attributes),
        )

    async def _deploy_wave(self, plan: ReleasePlan, step: DeployWave) -> None:
        self._set_phase("deploy")
        versions = ", ".join(f"{r.service.name} {r.version}" for r in self._rollouts)
        regions = ", ".join(step.regions)
        self._log(f"wave {step.wave + 1}: switching {regions} to {versions}")
        tasks: dict[str, asyncio.Future[RegionResult]] = {}
        for region in step.regions:
            self._touched.append((step.wave, region))
            self._regions[region] = "deploying"
            tasks[region] = asyncio.ensure_future(
                self._region_child(
                    plan,
                    region,
                    "switch",
                    services=self._rollouts,
                    finalize_now=step.finalize_now,
                )
            )
        self._memo()

        def settled() -> bool:
            failed = any(t.done() and t.exception() is not None for t in tasks.values())
            return failed or self._rollback is not None or all(t.done() for t in tasks.values())

        try:
            await workflow.wait_condition(settled)
        finally:
            # Regions still switching are cancelled, and put themselves back, before going on.
            for task in tasks.values():
                if not task.done():
                    task.cancel()
            await settle(asyncio.gather(*tasks.values(), return_exceptions=True))
        first_failure: BaseException | None = None
        for region, task in tasks.items():
            error = None if task.cancelled() else task.exception()
            if task.cancelled() or error is not None:
                # A region deploy that failed or was cancelled has put itself back.
                cancelled = task.cancelled() or was_cancelled(error)
                self._regions[region] = "restored" if cancelled else "failed"
                if error is not None and not cancelled and first_failure is None:
                    first_failure = error
                continue
            self._switched(region, task.result())
        self._memo()
        if first_failure is not None:
            raise first_failure
        if self._rollback is not None:
            raise RollbackRequested

    def _switched(self, region: str, result: RegionResult) -> None:
        self._results[region] = result
        if result.router_url:
            self._routers[region] = result.router_url
        versions = ", ".join(f"{s} {v}" for s, v in result.versions.items())
        if result.status == "unchanged":
            self._regions[region] = "unchanged"
            self._log(f"{region}: {versions} already live, nothing to do")
        else:
            self._regions[region] = "live" if result.status == "finalized" else "switched"
            self._log(f"{region}: router serves {versions}")

    async def _finalize(self, plan: ReleasePlan, regions: tuple[str, ...]) -> None:
        todo = [r for r in regions if r in self._results and self._results[r].status == "switched"]
        if not todo:
            for region in regions:
                if self._regions.get(region) == "switched":
                    self._regions[region] = "live"
            return
        self._set_phase("finalize")
        self._log(f"retiring old versions in {', '.join(todo)}")
        for region in todo:
            self._regions[region] = "finalizing"
        results = await asyncio.gather(
            *(self._region_child(plan, r, "finalize", previous=self._results[r]) for r in todo)
        )
        for region, result in zip(todo, results, strict=True):
            self._results[region] = result
            self._regions[region] = "live"
        self._memo()

    async def _undo(self) -> None:
        """Restore every switched region, the last wave first; shielded from cancellation."""
        plan = self._plan
        assert plan is not None
        touched = [(w, r) for w, r in self._touched if r in self._results]
        groups = [
            tuple(r for r in group if self._results[r].status != "unchanged")
            for group in compensation(touched)
        ]
        groups = [group for group in groups if group]
        if not groups:
            return
        self._set_phase("rolling-back")
        for group in groups:
            self._log(f"restoring {', '.join(group)}")
            for region in group:
                self._regions[region] = "restoring"
            restores = [
                self._region_child(plan, r, "restore", previous=self._results[r]) for r in group
            ]
            results = await settle(asyncio.gather(*restores))
            for region, result in zip(group, results, strict=True):
                self._results[region] = result
                self._regions[region] = "restored"
                self._restored.append(region)
            self._memo()

    # --- bookkeeping ----------------------------------------------------------------------------

    def _set_phase(self, phase: ReleasePhase) -> None:
        self._phase = phase
        workflow.upsert_search_attributes([PHASE.value_set(phase)])
        self._memo()

    def _memo(self) -> None:
        summary = self.progress().model_copy(
            update={"nodes": {}, "events": tuple(self._events[-5:])}
        )
        workflow.upsert_memo({"progress": summary.model_dump(mode="json")})

    def _log(self, message: str) -> None:
        self._events.append(ReleaseEvent(at=workflow.now().isoformat(), message=message))
