"""Gate notifications: post a gate to Slack with Approve/Reject buttons, update it once decided.

The bot token and API URL are read when the activity runs (``FERRYMAN_SLACK_*``
variables, else the ``slack`` section of the ferryman config), never passed in
workflow inputs, so no secret reaches the history. Without a bot token or a
channel the activities do nothing and return None: gates then work through the
CLI and the HTTP API alone.

A retried post may post twice (Slack's ``chat.postMessage`` has no idempotency
key); each message carries the same buttons, so a duplicate is harmless.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from ferryman.approvals.slack import gate_blocks, gate_text, outcome_blocks
from ferryman.identity.config import load_directory, slack_settings
from ferryman.identity.models import SlackSettings
from ferryman.temporal.models.gates import GateNotice, GateOutcomeNotice, GatePost

FATAL = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "channel_not_found", "not_in_channel"}
)
"""Slack errors a retry cannot fix."""


def configured_slack() -> SlackSettings:
    """The Slack settings now (environment over the config)."""
    return slack_settings(load_directory())


class NotifyActivities:
    """Slack notifications of gates.

    Args:
        settings: Gives the Slack settings at call time (default: environment and config).
    """

    def __init__(self, settings: Callable[[], SlackSettings] = configured_slack) -> None:
        self._settings = settings

    def _client(self, settings: SlackSettings) -> Any:
        from slack_sdk.web.async_client import AsyncWebClient

        if settings.api_url:
            base = settings.api_url.rstrip("/") + "/"
            return AsyncWebClient(token=settings.bot_token, base_url=base)
        return AsyncWebClient(token=settings.bot_token)

    @activity.defn(name="ferryman.post_gate")
    async def post_gate(self, notice: GateNotice) -> GatePost | None:
        """Post the gate to its channel; None when Slack is not configured."""
        settings = self._settings()
        channel = notice.view.channel or settings.channel
        if not settings.bot_token or not channel:
            return None
        escalated = notice.kind == "escalated"
        response = await _call(
            self._client(settings).chat_postMessage(
                channel=channel,
                text=gate_text(notice.view, notice.environment, escalated),
                blocks=gate_blocks(notice.view, notice.environment, escalated),
            )
        )
        return GatePost(channel=str(response["channel"]), ts=str(response["ts"]))

    @activity.defn(name="ferryman.update_gate")
    async def update_gate(self, notice: GateOutcomeNotice) -> None:
        """Replace a gate's message with how it closed (buttons removed)."""
        settings = self._settings()
        if not settings.bot_token:
            return
        await _call(
            self._client(settings).chat_update(
                channel=notice.post.channel,
                ts=notice.post.ts,
                text=f"{notice.view.release_id} gate {notice.view.gate}: {notice.summary}",
                blocks=outcome_blocks(notice.view, notice.summary),
            )
        )

    def all(self) -> list[Callable[..., Any]]:
        """Every activity of this class, bound, for a worker."""
        return [self.post_gate, self.update_gate]


async def _call(request: Any) -> Any:
    from slack_sdk.errors import SlackApiError

    try:
        return await request
    except SlackApiError as exc:
        error = str(exc.response.get("error", "")) if exc.response is not None else ""
        raise ApplicationError(
            f"Slack refused: {error or exc}", type="SlackError", non_retryable=error in FATAL
        ) from None
