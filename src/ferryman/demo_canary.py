"""``make demo``, level 7: the shop's checkout as a canary, once good and once bad.

Writes a second spec beside the shop demo's copy (``canary.yaml``): the same
repos and services, with checkout's strategy a canary judged by a sequential
error-rate template on the routers' own counters. A small change is released
under traffic and promoted step by step; then a change that fails 30 % of
requests is released, caught at 10 % and rolled back in one route swap. The
judgements are printed from the region deploys' ``analysis`` query.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from ruamel.yaml import YAML
from temporalio.client import Client

from ferryman.cli.live import follow
from ferryman.devstack import StackInfo, serve_regions_on_dev_stack
from ferryman.plan.compile import compile_plan
from ferryman.providers.local import LocalProvider
from ferryman.spec.load import load_spec
from ferryman.temporal.client.connection import Connection, connect
from ferryman.temporal.client.releases import start_release
from ferryman.temporal.names import region_deploy_id
from ferryman.temporal.workflows.region import RegionDeployWorkflow
from ferryman.traffic import LoadConfig, LoadStats, run_load

ENV = "staging"
CANARY: dict[str, Any] = {
    "canary": {
        "scale-down-delay": "5s",
        "progress-deadline": "1m",
        "steps": [
            {"set-weight": 10},
            {"analysis": {"templates": ["error-rate"]}},
            {"set-weight": 50},
            {"analysis": {"templates": ["error-rate"]}},
        ],
    }
}
TEMPLATES: dict[str, Any] = {
    "templates": {
        "error-rate": {
            "metrics": [
                {
                    "name": "errors",
                    "source": "local",
                    "query": {"kind": "error_rate"},
                    "judge": {"sequential": {"alpha": 0.01, "margin": 0.1}},
                }
            ],
            "interval-seconds": 2,
            "count": 60,
            "no-data": "fail",
        }
    }
}


def canary_spec(shop_spec: Path) -> Path:
    """``canary.yaml`` beside the shop demo's spec: checkout becomes a canary."""
    yaml = YAML()
    data = yaml.load(shop_spec.read_text())
    data["services"]["checkout"]["strategy"] = CANARY
    data["analysis"] = TEMPLATES
    target = shop_spec.with_name("canary.yaml")
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    target.write_text(buffer.getvalue())
    return target


async def release_canary(
    info: StackInfo, spec_file: Path, console: Console
) -> tuple[str, str, LoadStats]:
    """Release under checkout traffic; returns (release id, failure or "", traffic seen)."""
    plan = compile_plan(load_spec(spec_file), spec_file, ENV)
    client = await connect(Connection.from_env(info.temporal_address, info.namespace), wait_s=10)
    routers = await LocalProvider(info.agent_url, environment=ENV).routers()
    targets = tuple(routers[r.name] for r in plan.deploy.regions if r.name in routers)
    live: list[LoadStats] = []
    config = LoadConfig(targets=targets, rps=60, duration=3600, host="checkout", users=3000)
    load = asyncio.ensure_future(run_load(config, tick=live.append, tick_every=0.2))
    serve_regions_on_dev_stack(plan)
    handle = await start_release(client, plan)
    console.print(f"\n[bold]▶ {handle.id}[/]")
    try:
        _, error = await follow(client, handle, console)
    finally:
        load.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await load
    await show_judgements(client, handle.id, [r.name for r in plan.deploy.regions], console)
    return handle.id, error, live[-1] if live else LoadStats()


async def show_judgements(
    client: Client, release_id: str, regions: list[str], console: Console
) -> None:
    """Print every analysis run's verdict and the metric judgement behind it."""
    console.print()
    for region in regions:
        handle = client.get_workflow_handle_for(
            RegionDeployWorkflow.run, region_deploy_id(release_id, region)
        )
        records = (await handle.query(RegionDeployWorkflow.analysis)).records
        for record in records:
            if record.key == "run":
                colour = {"pass": "green", "fail": "red"}.get(record.judgement.verdict, "yellow")
                console.print(
                    f"  {region} {record.service} {record.step}: "
                    f"[{colour}]{record.judgement.verdict}[/] — {record.judgement.reason}"
                )


def behave(checkout: Path, **changes: float) -> None:
    """Change the checkout's ``config/behaviour.json``."""
    config = checkout / "config" / "behaviour.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), **changes}) + "\n")


def canary_demo(info: StackInfo, shop_spec: Path, commit: Any, console: Console) -> None:
    """Level 7: a good canary promoted step by step, a bad one caught and rolled back."""
    console.rule("level 7: canaries judged on the routers' own metrics")
    spec_file = canary_spec(shop_spec)
    checkout = shop_spec.parent / "repos" / "checkout"
    behave(checkout, latency_ms=1)
    commit(checkout, "checkout: 1 ms more latency")
    console.print("\na small change to checkout, as a canary (10 % → 50 % → 100 %)…")
    _, error, stats = asyncio.run(release_canary(info, spec_file, console))
    state = "[red]failed[/]: " + error if error else "[green]promoted[/]"
    console.print(f"  good canary {state}; traffic by version: {_served(stats)}")
    behave(checkout, error_rate=0.3)
    commit(checkout, "checkout: fails 30% of requests")
    console.print("\na bad change (30 % errors), as a canary…")
    _, error, stats = asyncio.run(release_canary(info, spec_file, console))
    outcome = f"[green]caught and rolled back[/]: {error}" if error else "[red]not caught[/]"
    console.print(f"  bad canary {outcome}")
    console.print(f"  traffic by version: {_served(stats)}")


def _served(stats: LoadStats) -> str:
    return ", ".join(
        f"{version} {seen.requests} ({seen.errors} errors)"
        for version, seen in sorted(stats.by_version.items())
    )
