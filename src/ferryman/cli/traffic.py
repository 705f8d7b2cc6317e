"""``ferryman traffic``: send paced load from sticky users through the routers, and report."""

from __future__ import annotations

from pathlib import Path

import typer

from ferryman.cli.app import app, console, fail
from ferryman.cli.context import run
from ferryman.devstack import load_info
from ferryman.errors import FerrymanError
from ferryman.providers.local import LocalProvider
from ferryman.spec.load import load_spec
from ferryman.traffic import LoadConfig, LoadStats, run_load

_DEFAULT_AGENT = "http://127.0.0.1:7480"


def _agent_url(explicit: str | None) -> str:
    if explicit:
        return explicit
    info = load_info()
    return info.agent_url if info is not None else _DEFAULT_AGENT


def _env_regions(spec_path: Path | None, env: str | None) -> set[str] | None:
    if env is None:
        return None
    path = spec_path or Path("ferryman.yaml")
    if not path.exists():
        raise fail(f"--env {env} needs the spec naming its regions: {path} not found (use --spec)")
    spec = load_spec(path)
    if env not in spec.environments:
        known = ", ".join(sorted(spec.environments)) or "none"
        raise fail(f"environment {env!r} is not in {path} (environments: {known})")
    return set(spec.environments[env].regions)


def pick_routers(routers: dict[str, str], wanted: set[str] | None, only: list[str]) -> list[str]:
    """The router URLs of the chosen regions, in region order.

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
    return [routers[r] for r in sorted(regions)]


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
    service: str | None = typer.Option(None, "--service", help="Host header picking a service."),
    path: str = typer.Option("/", "--path", help="Request path."),
    spec: Path | None = typer.Option(
        None, "--spec", help="ferryman.yaml naming --env's regions (default ./ferryman.yaml)."
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
    try:
        provider = LocalProvider(agent, environment=env or "default", timeout=5)
        routers = run(provider.routers())
    except FerrymanError as error:
        raise fail(f"{error} (is `ferryman dev` running?)") from None
    targets = pick_routers(routers, wanted, region)
    config = LoadConfig(
        targets=tuple(targets),
        rps=rps,
        duration=duration,
        requests=requests,
        users=users,
        path=path,
        host=service,
    )
    amount = (
        f"{requests} requests at {rps:g} req/s"
        if requests is not None
        else f"{rps:g} req/s for {duration:g}s"
    )
    console.print(f"sending {amount} to {', '.join(targets)}")

    def tick(stats: LoadStats) -> None:
        console.print(
            f"[{stats.elapsed:5.1f}s] " + "\n".join(stats.lines()), highlight=False, soft_wrap=True
        )

    stats = run(run_load(config, tick=tick))
    console.rule("total")
    console.print("\n".join(stats.lines()), highlight=False, soft_wrap=True)
    if stats.requests and stats.errors == stats.requests:
        raise typer.Exit(1)
