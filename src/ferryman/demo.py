"""``make demo``: build and deploy the hello example end to end on the embedded stack.

Copies ``examples/hello`` into ``.ferryman/demo``, makes its app a real git
repository, starts the dev stack, releases v1, shows the router serving it,
commits a change, releases again and shows the switch; the shop follows (a DAG
build, blue-green in three zones), then production, where it stops at an
approval gate until the demo approver approves it over the HTTP API, then level
7 (``ferryman.demo_canary``): the shop's checkout as a canary, a good change
promoted step by step and a bad one caught at 10 % and rolled back, with the
judgements printed. In a terminal it keeps the stack up until Ctrl-C; otherwise
it stops everything it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from rich.console import Console
from temporalio.client import Client

from ferryman import paths
from ferryman.cli.live import follow
from ferryman.demo_canary import canary_demo
from ferryman.devstack import (
    DevStack,
    StackConfig,
    StackInfo,
    load_info,
    serve_regions_on_dev_stack,
)
from ferryman.errors import FerrymanError
from ferryman.identity.config import cli_user, config_path, demo_token, load_directory
from ferryman.plan.compile import compile_plan
from ferryman.plan.models import RegionPlan
from ferryman.providers.local import LocalProvider
from ferryman.spec.load import load_spec
from ferryman.temporal.client.connection import Connection, connect
from ferryman.temporal.client.gates import pending_gates
from ferryman.temporal.client.releases import start_release
from ferryman.traffic import LoadConfig, LoadStats, run_load

console = Console()


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=ferryman demo", "-c", "user.email=demo@ferryman.invalid", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def prepare_example(example: Path, workdir: Path, message: str = "initial commit") -> Path:
    """Copy an example to ``workdir`` and make each local repo source a fresh git repository.

    Every ``repos.<name>.source`` of the example's ``ferryman.yaml`` that is a
    relative path becomes its own repository with one commit.

    Args:
        example: The example directory (holding ``ferryman.yaml``).
        workdir: Where to copy it; replaced if it exists.
        message: The commit message of each repository's first commit.

    Returns:
        The copied spec file.
    """
    shutil.rmtree(workdir, ignore_errors=True)
    shutil.copytree(example, workdir, ignore=shutil.ignore_patterns("__pycache__", ".git"))
    spec_file = workdir / "ferryman.yaml"
    for repo in load_spec(spec_file).repos.values():
        source = workdir / repo.source
        if "://" in repo.source or repo.source.startswith("git@") or not source.is_dir():
            continue
        _git(source, "init", "-q", "-b", "main")
        _git(source, "add", "-A")
        _git(source, "commit", "-q", "-m", message)
    return spec_file


async def release_once(
    info: StackInfo, spec_file: Path, env: str, traffic_host: str | None = None
) -> tuple[str, dict[str, str], LoadStats | None]:
    """Release ``spec_file``, following live; returns (version, region → router, traffic seen).

    With ``traffic_host``, sticky-user traffic runs through the environment's
    existing routers to that service for the whole release.
    """
    plan = compile_plan(load_spec(spec_file), spec_file, env)
    client = await connect(Connection.from_env(info.temporal_address, info.namespace), wait_s=10)
    routers = [] if traffic_host is None else await _routers(info, env, plan.deploy.regions)
    load: asyncio.Future[LoadStats] | None = None
    live: list[LoadStats] = []
    if routers:
        config = LoadConfig(targets=tuple(routers), rps=50, duration=3600, host=traffic_host)
        load = asyncio.ensure_future(run_load(config, tick=live.append, tick_every=0.2))
    serve_regions_on_dev_stack(plan)
    handle = await start_release(client, plan)
    console.print(f"\n[bold]▶ {handle.id}[/]")
    result, error = await follow(client, handle, console)
    stats = None
    if load is not None:
        await asyncio.sleep(1.0)  # keep sending a moment after the switch
        load.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await load
        stats = live[-1] if live else LoadStats()
    if result is None:
        raise FerrymanError(f"{handle.id} failed: {error}")
    return result.version, result.router_urls, stats


async def _routers(info: StackInfo, env: str, regions: tuple[RegionPlan, ...]) -> list[str]:
    known = await LocalProvider(info.agent_url, environment=env).routers()
    return [known[region.name] for region in regions if region.name in known]


def show_served(urls: dict[str, str], host: str | None = None) -> None:
    """Ask every region's router what it serves, as a user would with curl."""
    headers = {"Host": host} if host else {}
    for region, url in urls.items():
        answers = {httpx.get(url, headers=headers, timeout=5).text for _ in range(6)}
        flag = f"-H 'Host: {host}' " if host else ""
        for answer in sorted(answers):
            console.print(f"  curl {flag}{url}  →  {answer}   [dim]({region})[/]")


def show_traffic(stats: LoadStats) -> None:
    """What the traffic running during a release saw, per version."""
    for version, seen in sorted(stats.by_version.items()):
        console.print(
            f"  traffic answered by {version}: {seen.requests} requests, {seen.errors} errors, "
            f"p99 {seen.p(99) * 1000:.1f} ms"
        )
    failed = stats.errors  # requests that got no answer are errors too
    colour = "green" if failed == 0 else "red"
    console.print(f"  [{colour}]{failed} failed requests[/] during the switch")


def hello_demo(info: StackInfo, examples: Path) -> None:
    """Levels 0 and 1: build one repo, deploy it, change it, deploy again."""
    console.rule("levels 0–1: build one repo and deploy it")
    spec_file = prepare_example(examples / "hello", paths.home() / "demo" / "hello", "hello v1")
    version, urls, _ = asyncio.run(release_once(info, spec_file, "dev"))
    console.print(f"\n[green]deployed[/] hello {version}:")
    show_served(urls)
    app = spec_file.parent / "app"
    (app / "greeting.txt").write_text("hello again, from the second release\n")
    _git(app, "commit", "-q", "-am", "hello v2")
    version, urls, _ = asyncio.run(release_once(info, spec_file, "dev"))
    console.print(f"\n[green]switched[/] to hello {version}; the old version was retired:")
    show_served(urls)


def shop_demo(info: StackInfo, examples: Path) -> None:
    """Levels 2, 3 and 5: a DAG build, then blue-green across three zones under traffic."""
    console.rule("levels 2, 3, 5: build the shop as a DAG, blue-green across three zones")
    spec_file = prepare_example(examples / "shop", paths.home() / "demo" / "shop", "shop v1")
    _, urls, _ = asyncio.run(release_once(info, spec_file, "staging"))
    console.print("\n[green]deployed[/] the shop to every zone of eu-west:")
    show_served(urls, host="checkout")
    checkout = spec_file.parent / "repos" / "checkout"
    behaviour = checkout / "config" / "behaviour.json"
    behaviour.write_text(behaviour.read_text().replace("}", ', "latency_ms": 2}', 1))
    _git(checkout, "commit", "-q", "-am", "checkout: 2 ms more latency")
    console.print("\nchanged checkout; releasing again with traffic flowing…")
    _, urls, stats = asyncio.run(release_once(info, spec_file, "staging", "checkout"))
    console.print("\n[green]switched[/] checkout in all three zones at once:")
    show_served(urls, host="checkout")
    if stats is not None:
        show_traffic(stats)


DEMO_INPUTS = {"ticket": "CHG-1234"}
"""What the demo approver types in for the gate's inputs."""


def gate_demo(info: StackInfo, spec_file: Path, env: str = "prod") -> None:
    """Level 4: a release stops at its approval gate; the demo approver approves it over HTTP."""
    console.rule(f"level 4: a person decides before {env}")
    asyncio.run(_gated_release(info, spec_file, env))


async def _gated_release(info: StackInfo, spec_file: Path, env: str) -> None:
    config = Path(info.config_path) if info.config_path else config_path()
    directory = load_directory(config)
    requester = cli_user(directory, config) or ""
    spec = load_spec(spec_file, directory)
    plan = compile_plan(spec, spec_file, env, directory=directory, requested_by=requester)
    client = await connect(Connection.from_env(info.temporal_address, info.namespace), wait_s=10)
    serve_regions_on_dev_stack(plan)
    handle = await start_release(client, plan)
    who = requester or "nobody known"
    console.print(f"\n[bold]▶ {handle.id}[/] started by {who}; building…")
    deadline = time.monotonic() + 600
    while not (gates := await pending_gates(client, handle.id)):
        if time.monotonic() > deadline:
            raise FerrymanError(f"{handle.id} never reached its gate")
        await asyncio.sleep(0.5)
    gate = gates[0]
    inputs = {k: v for k, v in DEMO_INPUTS.items() if k in gate.inputs}
    flags = "".join(f" --input {k}={v}" for k, v in inputs.items())
    body = json.dumps({"comment": "staging looks good", "inputs": inputs})
    url = f"{info.server_url}/api/v1/releases/{handle.id}/gates/{gate.gate}/approve"
    tokens = info.tokens_path or "the demo tokens file"
    console.print(
        f"  stopped at gate [bold]{gate.gate}[/] ({gate.point}): {gate.instructions}\n"
        f"  who may decide: {', '.join(gate.may_decide)} (not {requester}: separation of duties)\n"
        "  approve it from the CLI:\n"
        f"    FERRYMAN_TOKEN=<demo-approver's token in {tokens}> \\\n"
        f"      ferryman approve {handle.id} --gate {gate.gate}{flags} "
        "--comment 'staging looks good'\n"
        "  or over HTTP:\n"
        f"    curl -X POST -H 'Authorization: Bearer <token>' -H 'Content-Type: application/json' "
        f"\\\n      -d '{body}' {url}",
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        f"  follow and approve it in the dashboard: {info.server_url}/releases/{handle.id}\n"
        f"    (log in with demo-approver's token from {tokens}; every pending gate: "
        f"{info.server_url}/gates)",
        highlight=False,
        soft_wrap=True,
    )
    if sys.stdin.isatty() and sys.stdout.isatty() and await _decided_by_a_person(client, handle.id):
        console.print("  [green]decided[/] in the dashboard")
    else:
        await _approve_over_http(url, body, config)
    result, error = await follow(client, handle, console)
    if result is None or result.status != "succeeded":
        raise FerrymanError(f"{handle.id} did not succeed: {error or (result and result.error)}")
    console.print(
        f"\n[green]released[/] to {env} after the approval (`ferryman audit {handle.id}`):"
    )
    show_served(result.router_urls, host="checkout")


async def _approve_over_http(url: str, body: str, config: Path) -> None:
    """Approve the gate as demo-approver through the HTTP API."""
    token = demo_token("demo-approver", config)
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(
            url,
            content=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
    if response.status_code != 200:
        raise FerrymanError(f"the approval was refused: {response.json().get('error')}")
    console.print(f"  [green]approved[/] over HTTP as demo-approver: {response.json()['answer']}")


async def _decided_by_a_person(client: Client, release_id: str) -> bool:
    """Wait until someone decides the gate (True), or for Enter to let the demo (False)."""
    console.print("  waiting for a decision there; press Enter to let the demo approve it…")
    enter = asyncio.ensure_future(asyncio.to_thread(sys.stdin.readline))
    while not enter.done():
        if not await pending_gates(client, release_id):
            console.print("  (press Enter to go on)")
            await enter
            return True
        await asyncio.wait({enter}, timeout=1)
    return False


def main(argv: list[str] | None = None) -> int:
    """Run the demo; returns the process exit code."""
    args = argv if argv is not None else sys.argv[1:]
    examples = Path(args[0] if args else "examples").resolve()
    started = time.monotonic()
    info = load_info()
    ours = info is None or not info.alive()
    try:
        if ours:
            console.print("starting the dev stack (Temporal dev server, worker, local agent)…")
            info = DevStack(StackConfig()).start()
        assert info is not None
        hello_demo(info, examples)
        shop_demo(info, examples)
        shop_spec = paths.home() / "demo" / "shop" / "ferryman.yaml"
        gate_demo(info, shop_spec)
        canary_demo(info, shop_spec, lambda repo, m: _git(repo, "commit", "-q", "-am", m), console)
    except FerrymanError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        if ours and info is not None:
            DevStack.stop(info)
        return 1
    console.print(f"\ndemo finished in {time.monotonic() - started:.1f}s")
    if info.ui_url:
        console.print(f"Temporal Web UI: {info.ui_url}/namespaces/{info.namespace}/workflows")
    if not ours or (sys.stdin.isatty() and sys.stdout.isatty()):
        console.print("try: .venv/bin/ferryman status · .venv/bin/ferryman logs · ferryman builds")
    if ours and sys.stdin.isatty() and sys.stdout.isatty():
        console.print("the stack stays up for exploring; press Ctrl-C to stop it")
        stop = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        stop.wait()
    if ours:
        DevStack.stop(info)
        console.print("dev stack stopped")
    return 0


if __name__ == "__main__":
    exit_code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(exit_code)  # skip native-runtime teardown, see ferryman.cli.app.main
