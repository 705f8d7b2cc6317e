"""What the agent remembers about one instance."""

from __future__ import annotations

from dataclasses import dataclass, field

from ferryman.platform.models import Instance
from ferryman.platform.secrets import SecretSource


@dataclass(frozen=True)
class Launch:
    """How to (re)start an instance's process.

    Attributes:
        command: Shell command run with ``bash -c``.
        cwd: The release directory the command runs in.
        env: Variables added to the agent's environment, ``PORT`` and the
            ``FERRYMAN_*`` identity excluded (those are set at each start).
        health_path: Path answered by a healthy instance.
        health_status: Status a healthy instance answers with.
        artifact_digest: The artifact bundle the release directory holds.
        secrets: Secret variables' values, kept (in the agent's state only) to
            restart the process; never in an event or an answer.
        secret_refs: Where each secret was read (``SecretSource`` as a dict), which
            the provider reports in ``ServiceState.launches``.
    """

    command: str
    cwd: str
    env: dict[str, str]
    health_path: str
    health_status: int
    artifact_digest: str = ""
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    secret_refs: dict[str, dict[str, str | None]] = field(default_factory=dict)

    def secret_sources(self) -> dict[str, SecretSource]:
        """Where each secret variable was read."""
        return {name: SecretSource(**ref) for name, ref in self.secret_refs.items()}


@dataclass
class InstanceRecord:
    """One instance: its identity, its process and what the agent wants of it.

    Attributes:
        environment: The environment the instance belongs to; regions of different
            environments are separate even when they share a name.
        desired: ``running`` while the agent keeps the instance alive, ``stopped``
            once it was retired.
        failures: Restarts since the instance last answered healthy; drives backoff.
        next_restart: Monotonic time before which a dead process is not restarted.
        launched: Monotonic time the current process was started or adopted.
    """

    id: str
    region: str
    zone: str
    service: str
    version: str
    port: int
    pid: int | None
    state: str
    desired: str
    launch: Launch
    created: float
    environment: str = "default"
    failures: int = field(default=0, compare=False)
    next_restart: float = field(default=0.0, compare=False)
    launched: float = field(default=0.0, compare=False)

    def labels(self) -> dict[str, str]:
        """The metric labels that identify this instance."""
        return {
            "environment": self.environment,
            "region": self.region,
            "zone": self.zone,
            "service": self.service,
            "version": self.version,
            "instance": self.id,
        }

    @property
    def where(self) -> str:
        """``<environment>/<region>``, how events name the region of an instance."""
        return f"{self.environment}/{self.region}"

    @property
    def running(self) -> bool:
        """Whether the agent keeps this instance alive."""
        return self.desired == "running"

    def model(self) -> Instance:
        """The instance as the provider API shows it."""
        return Instance(
            id=self.id,
            region=self.region,
            zone=self.zone,
            service=self.service,
            version=self.version,
            port=self.port,
            pid=self.pid,
            state=self.state,
            environment=self.environment,
            artifact_digest=self.launch.artifact_digest,
        )
