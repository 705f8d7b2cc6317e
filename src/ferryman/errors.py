"""The exceptions ferryman raises.

Every error a user can cause derives from ``FerrymanError`` and carries a
one-line message that the CLI prints without a traceback::

    FerrymanError
     ├── SpecError            a ferryman.yaml that cannot be loaded or is invalid
     ├── PlanError            a release request that does not fit the spec
     ├── BuildError           a build step exited non-zero or an output is missing
     ├── ProviderError        the platform refused or failed a request
     │    └── AgentUnavailable  the local agent could not be reached
     ├── DevStackError        the dev stack could not start (port taken, binary missing)
     └── ReleaseError         a release failed, was rejected or does not exist
"""

from __future__ import annotations

from dataclasses import dataclass


class FerrymanError(Exception):
    """Base class of every error ferryman reports to a user."""


@dataclass(frozen=True)
class SpecIssue:
    """One problem found in a spec file, with its location.

    Attributes:
        file: Path of the spec file as the user gave it.
        line: 1-based line of the offending node.
        column: 1-based column of the offending node.
        path: Dotted YAML path, e.g. ``environments.prod.regions``.
        message: What is wrong, in one line.
    """

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class SpecError(FerrymanError):
    """A spec that cannot be loaded; holds every issue found, not just the first."""

    def __init__(self, issues: list[SpecIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


class PlanError(FerrymanError):
    """A release request that does not fit the spec (unknown environment, service…)."""


class BuildError(FerrymanError):
    """A build failed: a step exited non-zero, timed out, or an output is missing."""


class ProviderError(FerrymanError):
    """The platform refused or failed a request."""


class AgentUnavailable(ProviderError):
    """The local platform agent did not answer."""


class DevStackError(FerrymanError):
    """The dev stack could not be started or reached."""


class ReleaseError(FerrymanError):
    """A release failed, was rejected, or does not exist."""
