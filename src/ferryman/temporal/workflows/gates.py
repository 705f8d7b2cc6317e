"""Approval gates inside a workflow: ``GateKeeper`` holds them, the workflow delegates to it.

``ReleaseWorkflow`` keeps its release-level gates here (``before-environment``,
``before-wave N``, ``after-wave N``); ``RegionDeployWorkflow`` keeps its
promotion gate. Each workflow exposes the same ``decide`` Update, whose
validator is :meth:`GateKeeper.validate` (the pure policy of
``ferryman.approvals.policy``: a refused decision never reaches the history),
and the same ``audit`` query.

:meth:`GateKeeper.hold` waits at a gate: it opens it (audit ``opened``, the
pending view in the memo), posts it to Slack through an activity (audit
``notified``; nothing when Slack is not configured), waits for decisions with
the gate's timeout and applies ``on-timeout`` (``escalate`` notifies again and
waits once more), updates the posted message once the gate closed, and returns
how it closed. A rejection is the caller's to act on (:func:`rejected_error`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from ferryman.approvals import policy
    from ferryman.approvals.audit import AuditEvent, AuditKind
    from ferryman.approvals.policy import GateDecision, GateState, GateStatus, Refusal
    from ferryman.approvals.views import GateView, view_of
    from ferryman.plan.models import GatePlan
    from ferryman.temporal.activities.notify import NotifyActivities
    from ferryman.temporal.models.gates import (
        GateNotice,
        GateOutcomeNotice,
        GatePost,
        GateSnapshot,
        NoticeKind,
    )

REJECTED = "GateRejected"
"""``ApplicationError.type`` of a region deploy ended by its rejected promotion gate."""
REFUSED_PREFIX = "gate-"
"""``ApplicationError.type`` of a refused decision: ``gate-forbidden``, ``gate-conflict``…"""
NOTIFY_RETRY = RetryPolicy(maximum_attempts=3, initial_interval=timedelta(seconds=1))


def rejected_error(message: str) -> ApplicationError:
    """The error a region deploy fails with when its promotion gate is rejected."""
    return ApplicationError(message, type=REJECTED, non_retryable=True)


def rejection_of(error: BaseException | None) -> str | None:
    """The reason, if ``error`` (or its cause, through child workflows) is a gate's rejection."""
    while error is not None:
        if isinstance(error, ApplicationError) and error.type == REJECTED:
            return error.message
        if not isinstance(error, ChildWorkflowError | ApplicationError):
            return None
        error = error.cause
    return None


class GateKeeper:
    """The gates of one workflow: their state, their policy, their audit trail."""

    def __init__(self) -> None:
        self._plans: dict[str, GatePlan] = {}
        self._states: dict[str, GateState] = {}
        self._deadlines: dict[str, str] = {}
        self._posts: dict[str, list[GatePost]] = {}
        self._audit: list[AuditEvent] = []
        self._release_id = ""
        self._workflow_id = ""
        self._region = ""
        self._requested_by = ""
        self._environment = ""
        self._version = ""

    def setup(
        self,
        gates: Sequence[GatePlan],
        *,
        release_id: str,
        requested_by: str,
        environment: str,
        region: str = "",
    ) -> None:
        """Know the workflow's gates (call once, at the start of the run)."""
        self._plans = {gate.name: gate for gate in gates}
        self._states = {gate.name: GateState() for gate in gates}
        self._release_id = release_id
        self._workflow_id = workflow.info().workflow_id
        self._region = region
        self._requested_by = requested_by
        self._environment = environment

    # --- decisions ------------------------------------------------------------------------------

    def validate(self, decision: GateDecision, *, early: bool = False) -> None:
        """The ``decide`` validator: refuse what the policy refuses, with its reason.

        Args:
            decision: The decision.
            early: Take decisions for a gate not open yet (a hold still ahead).

        Raises:
            ApplicationError: Of type ``gate-<kind>``, with the reason in one line.
        """
        try:
            gate = self._select(decision, early)
            policy.check(
                self._plans[gate],
                self._states[gate],
                decision,
                requested_by=self._requested_by,
                early=early,
            )
        except Refusal as refusal:
            raise ApplicationError(
                refusal.message, type=REFUSED_PREFIX + refusal.kind, non_retryable=True
            ) from None

    def decide(self, decision: GateDecision, *, early: bool = False) -> str:
        """The ``decide`` handler: record an accepted decision; answer where the gate stands."""
        name = self._select(decision, early)
        plan, before = self._plans[name], self._states[name]
        now = self._now()
        state = policy.record(plan, before, decision, now)
        self._states[name] = state
        if before.status == "waiting":
            self._event("opened", name, detail=f"opened by an early decision of {decision.user}")
        kind: AuditKind = "approved" if decision.verdict == "approve" else "rejected"
        self._event(
            kind,
            name,
            user=decision.user,
            comment=decision.comment,
            inputs=dict(decision.inputs),
            channel=decision.channel,
            detail=self._progress(name),
        )
        self._memo()
        return f"{self._where(name)}: {self._progress(name)}"

    def _select(self, decision: GateDecision, early: bool) -> str:
        if decision.gate:
            if decision.gate not in self._plans:
                known = ", ".join(self._plans) or "none"
                raise Refusal(
                    "not-found", f"{self._where('')} has no gate {decision.gate} (gates: {known})"
                )
            return decision.gate
        wanted = ("open", "waiting") if early else ("open",)
        candidates = [n for n, s in self._states.items() if s.status in wanted]
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            raise Refusal("conflict", f"{self._where('')} has no gate open")
        raise Refusal("conflict", f"several gates are open ({', '.join(candidates)}): name one")

    # --- views ----------------------------------------------------------------------------------

    def state(self, name: str) -> GateState:
        """Where the gate ``name`` stands (waiting, for a gate not set up yet)."""
        return self._states.get(name, GateState())

    def views(self, only_open: bool = True) -> tuple[GateView, ...]:
        """The gates as people see them (the open ones by default)."""
        return tuple(
            self._view(name)
            for name, state in self._states.items()
            if state.status == "open" or not only_open
        )

    def audit(self) -> tuple[AuditEvent, ...]:
        """Every gate event of this workflow, in order."""
        return tuple(self._audit)

    def _view(self, name: str) -> GateView:
        return view_of(
            self._plans[name],
            self._states[name],
            release_id=self._release_id,
            workflow_id=self._workflow_id,
            region=self._region,
            requested_by=self._requested_by,
            deadline=self._deadlines.get(name, ""),
            version=self._version,
        )

    # --- waiting at a gate ----------------------------------------------------------------------

    def snapshot(self) -> GateSnapshot:
        """What the gates know, for the workflow's next run after continue-as-new."""
        return GateSnapshot(
            states=dict(self._states),
            deadlines=dict(self._deadlines),
            posts={name: list(posts) for name, posts in self._posts.items()},
            audit=tuple(self._audit),
            version=self._version,
        )

    def load(self, snapshot: GateSnapshot) -> None:
        """Take back what an earlier run knew (after :meth:`setup`)."""
        self._states.update(snapshot.states)
        self._deadlines = dict(snapshot.deadlines)
        self._posts = {name: list(posts) for name, posts in snapshot.posts.items()}
        self._audit = list(snapshot.audit)
        self._version = snapshot.version

    def reopen(self, name: str) -> None:
        """Make an approved gate wait again, for the next hold that needs its own approval.

        A canary pauses several times and each pause takes a promotion of its own
        (Argo Rollouts' ``promote``); the audit keeps every earlier decision.
        """
        if self._states[name].status == "approved":
            self._states[name] = GateState()
            self._memo()

    async def hold(
        self, name: str, interrupted: Callable[[], bool], version: str = ""
    ) -> GateStatus:
        """Open the gate ``name``, wait until it closes or ``interrupted()``; its final status.

        ``cancelled`` when interrupted (or the workflow is cancelled meanwhile).
        """
        plan = self._plans[name]
        self._version = version or self._version
        if self._states[name].closed:  # decided early, before the hold was reached
            return self._states[name].status
        if self._states[name].status == "waiting":
            self._states[name] = policy.opened(self._states[name], self._now())
            self._event("opened", name, detail=self._progress(name))
        notices = [self._notify(name, "opened")]
        try:
            await self._wait(name, plan, interrupted, notices)
        except asyncio.CancelledError:
            self._close_cancelled(name)
            raise
        if not self._states[name].closed:
            self._close_cancelled(name)
        self._memo()
        await self._announce(name, notices)
        return self._states[name].status

    async def _wait(
        self,
        name: str,
        plan: GatePlan,
        interrupted: Callable[[], bool],
        notices: list[asyncio.Task[None]],
    ) -> None:
        def settled() -> bool:
            return self._states[name].closed or interrupted()

        while True:
            timeout = timedelta(seconds=plan.timeout_s) if plan.timeout_s else None
            if timeout is not None:
                self._deadlines[name] = (workflow.now() + timeout).isoformat()
            self._memo()
            try:
                await workflow.wait_condition(settled, timeout=timeout)
                return
            except TimeoutError:
                pass
            state, action = policy.timed_out(plan, self._states[name], self._now())
            self._states[name] = state
            waited = f"{plan.timeout_s:g}s"
            if action == "escalate":
                to = ", ".join(plan.escalate_as_written)
                self._event("escalated", name, detail=f"no decision in {waited}; asking {to} too")
                notices.append(self._notify(name, "escalated"))
                continue
            if action == "approve":
                self._event("approved", name, detail=f"no decision in {waited}: approved by policy")
            else:
                self._event("timed-out", name, detail=f"no decision in {waited}: rejected")
            return

    def _close_cancelled(self, name: str) -> None:
        if not self._states[name].closed:
            self._states[name] = policy.cancelled(self._states[name], self._now())
            self._event("cancelled", name, detail="the release stopped waiting")
            self._memo()

    # --- notifications --------------------------------------------------------------------------

    def _notify(self, name: str, kind: NoticeKind) -> asyncio.Task[None]:
        async def post() -> None:
            notice = GateNotice(kind=kind, view=self._view(name), environment=self._environment)
            try:
                posted = await workflow.execute_activity_method(
                    NotifyActivities.post_gate,
                    notice,
                    start_to_close_timeout=timedelta(seconds=30),
                    retry_policy=NOTIFY_RETRY,
                    summary=f"notify gate {name}",
                )
            except ActivityError:
                return  # a chat outage must not hold a release; the gate still waits
            if posted is not None:
                self._posts.setdefault(name, []).append(posted)
                self._event("notified", name, channel=posted.channel, detail=f"{kind} message")
                self._memo()

        return asyncio.ensure_future(post())

    async def _announce(self, name: str, notices: list[asyncio.Task[None]]) -> None:
        """Wait for the posts, then update each posted message with how the gate closed."""
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*notices)
        summary = policy.describe_close(self._states[name])
        for post in self._posts.get(name, []):
            with contextlib.suppress(ActivityError):
                await workflow.execute_activity_method(
                    NotifyActivities.update_gate,
                    GateOutcomeNotice(post=post, view=self._view(name), summary=summary),
                    start_to_close_timeout=timedelta(seconds=30),
                    retry_policy=NOTIFY_RETRY,
                    summary=f"update gate {name} message",
                )

    # --- bookkeeping ----------------------------------------------------------------------------

    def _now(self) -> str:
        return workflow.now().isoformat()

    def _where(self, name: str) -> str:
        place = f"{self._release_id} {self._region}".strip() if self._region else self._release_id
        return f"{place} gate {name}" if name else place

    def _progress(self, name: str) -> str:
        plan, state = self._plans[name], self._states[name]
        if state.closed:
            return policy.describe_close(state)
        done = len(state.approvals)
        who = f" ({', '.join(state.approvals)})" if state.approvals else ""
        return f"{done} of {plan.required} approval(s){who}"

    def _event(self, kind: AuditKind, gate: str, **fields: object) -> None:
        self._audit.append(
            AuditEvent.model_validate(
                {
                    "at": self._now(),
                    "kind": kind,
                    "gate": gate,
                    "release_id": self._release_id,
                    "workflow_id": self._workflow_id,
                    "region": self._region,
                    **fields,
                }
            )
        )

    def _memo(self) -> None:
        workflow.upsert_memo(
            {
                "gates": [view.model_dump(mode="json") for view in self.views()],
                "audit": [event.model_dump(mode="json") for event in self._audit],
            }
        )
