"""``ferryman traffic``: send paced load from sticky users through the routers, and report.

Which routers: those of ``--env`` on the agent (narrowed by ``--region``, and
checked against ``--spec`` or ``./ferryman.yaml`` when one is there). Which
services: ``--service`` names one (its ``Host`` header); without it the load is
spread over every service each region runs, each request carrying its service's
``Host`` header, so a region of several services answers instead of 404.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import typer

from ferryman.cli.app import app, console, fail
from ferryman.cli.context import run
from ferryman.devstack import load_info
from ferryman.errors import FerrymanError
from ferryman.providers.local import LocalProvider
from ferryman.spec.load import load_spec, spec_file
from ferryman.traffic import LoadConfig, LoadStats, run_load

_DEFAULT_AGENT = "http://127.0.0.1:7480"


def _agent_url(explicit: str | None) -> str:
    if explicit:
        return explicit
    info = load_info()
    return info.agent_url if info is not None else _DEFAULT_AGENT


def _env_regions(spec_path: Path | None, env: str | None) -> set[str] | None:
    """The environment's regions per the spec; None when no spec is given or found here."""
    if env is None:
        return None
    if spec_path is None:
        if not Path("ferryman.yaml").exists():
            return None
        spec_path = Path("ferryman.yaml")
    path = spec_file(spec_path)
    if not path.exists():
        raise fail(f"--spec {spec_path}: {path} not found")
    spec = load_spec(path)
    if env not in spec.environments:
        known = ", ".join(sorted(spec.environments)) or "none"
        raise fail(f"environment {env!r} is not in {path} (environments: {known})")
    return set(spec.environments[env].regions)


def pick_routers(routers: dict[str, str], wanted: set[str] | None, only: list[str]) -> list[str]:
    """The regions to send to, in order.

    Raises:
        typer.Exit: A named region has no router.
    """
    regions = set(only) if only else (wanted if wanted is not None else set(routers))
    if wanted is not None and only:
        outside = sorted(set(only) - wanted)
        if outside:
            raise fail(f"region {', '.join(outside)} is not part of the environment")
    missing = sorted(regions - set(routers))
    if missing:
        have = ", ".join(sorted(routers)) or "none yet"
        raise fail(f"no router for region {', '.join(missing)} (routers: {have})")
    return sorted(regions)


@dataclass(frozen=True)
class Stream:
    """Load for one service: its ``Host`` header (None: the router's only service)."""

    host: str | None
    targets: tuple[str, ...]


def plan_streams(
    regions: list[str],
    routers: dict[str, str],
    services: dict[str, set[str]],
    service: str | None,
) -> list[Stream]:
    """One stream per service to send to: named by --service, else every region's services."""
    if service is not None:
        return [Stream(service, tuple(routers[r] for r in regions))]
    by_host: dict[str | None, list[str]] = {}
    for region in regions:
        running = sorted(services.get(region, set()))
        hosts: list[str | None] = list(running) if len(running) > 1 else [None]
        for host in hosts:
            by_host.setdefault(host, []).append(routers[region])
    return [Stream(host, tuple(targets)) for host, targets in by_host.items()]


async def _services(provider: LocalProvider) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for instance in await provider.instances():
        if instance.state != "stopped":
            found.setdefault(instance.region, set()).add(instance.service)
    return found


@app.command()
def traffic(
    env: str | None = typer.Option(None, "--env", help="Send to this environment's regions."),
    region: list[str] = typer.Option([], "--region", help="Only these regions (repeatable)."),
    rps: float = typer.Option(50.0, "--rps", min=0.1, help="Requests per second in total."),
    users: int = typer.Option(1000, "--users", min=1, help="Distinct sticky user ids."),
    duration: float = typer.Option(30.0, "--duration", min=0.1, help="Seconds to send for."),
    requests: int | None = typer.Option(
        None, "--requests", min=1, help="Send exactly this many requests (instead of --duration)."
    ),
    service: str | None = typer.Option(
        None,
        "--service",
        help="Only this service (its Host header); default: every service of each region.",
    ),
    path: str = typer.Option("/", "--path", help="Request path."),
    spec: Path | None = typer.Option(
        None,
        "--spec",
        help="ferryman.yaml whose --env regions to check (default: ./ferryman.yaml if any).",
    ),
    agent_url: str | None = typer.Option(
        None, "--agent-url", envvar="FERRYMAN_AGENT_URL", help="The local agent's API."
    ),
) -> None:
    """Send load through the routers and print rate, errors and latency per version.

    Every answer that is not 2xx or 3xx is an error; 5xx and (unexpected) 4xx
    answers are also counted apart, and so are requests that got no answer.
    """
    if not path.startswith("/"):
        raise fail(f"--path must start with '/', got {path!r}")
    wanted = _env_regions(spec, env)
    agent = _agent_url(agent_url)
    environment = env or "default"
    try:
        provider = LocalProvider(agent, environment=environment, timeout=5)
        routers = run(provider.routers())
        services = run(_services(provider)) if service is None else {}
    except FerrymanError as error:
        raise fail(f"{error} (is `ferryman dev` running?)") from None
    if env is not None and not routers and not region:
        raise fail(f"environment {env!r} has no router on the agent at {agent} (release to it)")
    regions = pick_routers(routers, wanted, region)
    streams = plan_streams(regions, routers, services, service)
    targets = sorted({t for s in streams for t in s.targets})
    total = sum(len(s.targets) for s in streams)
    hosts = [s.host for s in streams if s.host]
    spread = f" over {', '.join(hosts)} (Host header each)" if len(hosts) > 1 else ""
    amount = (
        f"{requests} requests at {rps:g} req/s"
        if requests is not None
        else f"{rps:g} req/s for {duration:g}s"
    )
    console.print(f"sending {amount} to {', '.join(targets)}{spread}", highlight=False)
    shares = _shares(requests, [len(s.targets) for s in streams])

    def tick_for(host: str | None) -> Callable[[LoadStats], None]:
        def tick(stats: LoadStats) -> None:
            label = f"{host}: " if len(streams) > 1 and host else ""
            console.print(
                f"[{stats.elapsed:5.1f}s] {label}" + "\n".join(stats.lines()),
                highlight=False,
                soft_wrap=True,
            )

        return tick

    async def send() -> list[LoadStats]:
        loads = [
            run_load(
                LoadConfig(
                    targets=s.targets,
                    rps=rps * len(s.targets) / total,
                    duration=duration,
                    requests=share,
                    users=users,
                    path=path,
                    host=s.host,
                ),
                tick=tick_for(s.host),
            )
            for s, share in zip(streams, shares, strict=True)
        ]
        return list(await asyncio.gather(*loads))

    finished = run(send())
    answered = errors = 0
    for stream, stats in zip(streams, finished, strict=True):
        console.rule(f"total {stream.host}" if len(streams) > 1 and stream.host else "total")
        console.print("\n".join(stats.lines()), highlight=False, soft_wrap=True)
        _warn_router_answers(stats, stream.host)
        answered += stats.requests
        errors += stats.errors
    if answered and errors == answered:
        raise typer.Exit(1)


def _warn_router_answers(stats: LoadStats, host: str | None) -> None:
    """Say so when the router answered itself (no version): a wrong Host, nothing routed."""
    unnamed = stats.by_version.get("-")
    if unnamed is None or unnamed.requests <= stats.failures:
        return
    answered = unnamed.requests - stats.failures
    where = f"Host {host!r}" if host else "requests without a Host header"
    console.print(
        f"[yellow]{answered} answer(s) came from the router itself, not a service: check "
        f"{where} (--service picks one) and that the region routes it[/]",
        highlight=False,
    )


def _shares(requests: int | None, weights: list[int]) -> list[int | None]:
    """Split an exact request count over streams by weight (the remainder to the first)."""
    if requests is None:
        return [None] * len(weights)
    total = sum(weights)
    shares = [requests * w // total for w in weights]
    shares[0] += requests - sum(shares)
    return list[int | None](shares)
