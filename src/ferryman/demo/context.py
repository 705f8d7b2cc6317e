"""``Demo``: what every story step works with — the stack, the shop, the users, the console."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from temporalio.client import Client

from ferryman.demo.findings import Findings
from ferryman.demo.options import DemoOptions
from ferryman.demo.traffic import WorldTraffic
from ferryman.demo.workspace import Workspace
from ferryman.devstack import StackInfo
from ferryman.providers.local import LocalProvider

ENV = "prod"
"""The environment the story releases to: three regions × three zones, in waves."""


@dataclass
class Demo:
    """One run of the demo.

    Attributes:
        info: The running dev stack.
        options: How this run goes.
        console: Where the story is told.
        client: A Temporal client of the stack.
        workspace: The shop's repositories and the demo's spec.
        findings: What was measured so far.
        traffic: The users, once production serves something.
    """

    info: StackInfo
    options: DemoOptions
    console: Console
    client: Client
    workspace: Workspace
    findings: Findings
    traffic: WorldTraffic | None = None

    @property
    def platform(self) -> LocalProvider:
        """The local platform's agent, acting in production."""
        return LocalProvider(self.info.agent_url, environment=ENV)

    def say(self, text: str) -> None:
        """Print a line of the story (rich markup allowed; long commands are not wrapped)."""
        self.console.print(text, highlight=False, soft_wrap=True)

    def chapter(self, title: str) -> None:
        """Start a new part of the story."""
        self.console.rule(title)
