"""What a demo run may change, read from ``DEMO_*`` environment variables.

``make demo`` passes none of them and gets the full story. A person sets
``DEMO_INTERACTIVE=1`` to approve the production gate by hand (in the
dashboard or with ``ferryman approve``) and to keep the stack up at the end;
the integration test shortens bakes and analyses and asks for free ports.

| variable | default | meaning |
|---|---|---|
| ``DEMO_INTERACTIVE`` | ``0`` | ``1``: a person decides each gate; the stack stays up at the end |
| ``DEMO_KEEP`` | ``0`` | ``1``: the stack stays up after the summary until Ctrl-C |
| ``DEMO_BAKE`` | ``5s`` | the bake after each production wave |
| ``DEMO_ANALYSIS_INTERVAL`` | ``2`` | seconds between two looks of the canary analysis |
| ``DEMO_CANARY_WEIGHT`` | ``25`` | percent of users on the canary while it is judged |
| ``DEMO_MARGIN`` | ``0.1`` | the canary passes once its extra error rate is surely below this |
| ``DEMO_RPS`` | ``45`` | requests per second to each service, spread over the regions |
| ``DEMO_FREE_PORTS`` | ``0`` | ``1``: run the stack on free ports instead of the default ones |
| ``DEMO_SUMMARY_JSON`` | unset | also write the measured summary to this file |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ferryman.devstack import StackConfig
from ferryman.errors import FerrymanError


def _flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise FerrymanError(f"{name}={raw!r}: expected a number") from None
    if not low <= value <= high:
        raise FerrymanError(f"{name}={raw}: expected a number from {low:g} to {high:g}")
    return value


def free_ports() -> StackConfig:
    """A stack configuration whose every port is free right now."""
    from ferryman.testing import free_port

    return StackConfig(
        temporal_port=free_port(),
        ui_port=free_port(),
        agent_port=free_port(),
        router_base_port=free_port(),
        server_port=free_port(),
    )


@dataclass(frozen=True)
class DemoOptions:
    """How this run of the demo goes.

    Attributes:
        examples: The repository's ``examples/`` directory.
        interactive: Wait for a person at each gate; keep the stack up at the end.
        keep: Keep the stack up after the summary until Ctrl-C.
        bake: The bake after each production wave, as the spec writes it (``5s``).
        analysis_interval_s: Seconds between two looks of the canary analysis.
        canary_weight: Percent of users on the canary while it is judged.
        margin: The canary passes once its extra error rate is surely below this
            (a larger margin needs fewer requests to pass).
        rps: Requests per second to each service, spread over the regions.
        stack: Ports of the dev stack the demo starts.
        summary_json: Where to write the measured summary as JSON, if anywhere.
    """

    examples: Path
    interactive: bool = False
    keep: bool = False
    bake: str = "5s"
    analysis_interval_s: float = 2.0
    canary_weight: int = 25
    margin: float = 0.1
    rps: float = 45.0
    stack: StackConfig = field(default_factory=StackConfig)
    summary_json: Path | None = None

    @classmethod
    def from_env(cls, examples: Path, env: Mapping[str, str] | None = None) -> DemoOptions:
        """The options for ``examples`` as the ``DEMO_*`` variables of ``env`` set them.

        Raises:
            FerrymanError: A variable that is not what it should be, named with its value.
        """
        env = os.environ if env is None else env
        interactive = _flag(env, "DEMO_INTERACTIVE")
        bake = env.get("DEMO_BAKE", "").strip() or "5s"
        summary = env.get("DEMO_SUMMARY_JSON", "").strip()
        return cls(
            examples=examples,
            interactive=interactive,
            keep=interactive or _flag(env, "DEMO_KEEP"),
            bake=bake,
            analysis_interval_s=_number(env, "DEMO_ANALYSIS_INTERVAL", 2.0, 0.2, 60),
            canary_weight=int(_number(env, "DEMO_CANARY_WEIGHT", 25, 1, 50)),
            margin=_number(env, "DEMO_MARGIN", 0.1, 0.01, 0.5),
            rps=_number(env, "DEMO_RPS", 45.0, 1, 500),
            stack=free_ports() if _flag(env, "DEMO_FREE_PORTS") else StackConfig(),
            summary_json=Path(summary) if summary else None,
        )
