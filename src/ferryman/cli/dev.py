"""``ferryman dev`` and ``ferryman down``: the local stack on one machine."""

from __future__ import annotations

import signal
import threading

import typer

from ferryman import paths
from ferryman.cli.app import app, console
from ferryman.devstack import DevStack, StackConfig, StackInfo, load_info
from ferryman.devstack.find import DEFAULT_AGENT_URL, stray_stack
from ferryman.devstack.processes import pid_alive
from ferryman.devstack.stack import info_path


def print_stack(info: StackInfo) -> None:
    """Say where each part of the stack answers."""
    console.print(f"Temporal      {info.temporal_address} (namespace {info.namespace})")
    if info.ui_url:
        console.print(f"Web UI        {info.ui_url}")
    console.print(f"local agent   {info.agent_url}")
    if info.server_url:
        console.print(f"dashboard     {info.server_url}/releases  (log in with a user's token)")
        console.print(f"HTTP API      {info.server_url}  (pending gates: /api/v1/gates)")
    if info.prometheus_url:
        console.print(f"Prometheus    {info.prometheus_url}")
    if info.config_path:
        console.print(f"users         {info.config_path} (ferryman users list)")
    if info.tokens_path:
        console.print(
            f"demo tokens   {info.tokens_path} (owner-only; this CLI acts as alice, "
            "approve as another user with FERRYMAN_TOKEN=…)"
        )


@app.command()
def dev(
    detach: bool = typer.Option(False, "--detach", "-d", help="Start in the background."),
    temporal_port: int = typer.Option(7233, help="gRPC port of the Temporal dev server."),
    ui_port: int = typer.Option(8233, help="Port of the Temporal Web UI."),
    agent_port: int = typer.Option(7480, help="Port of the local platform agent."),
    router_base_port: int = typer.Option(7500, help="First port handed to region routers."),
    build_slots: int = typer.Option(2, min=1, help="Build steps run at once."),
    temporal_address: str | None = typer.Option(
        None, envvar="FERRYMAN_TEMPORAL_ADDRESS", help="Use this Temporal cluster instead."
    ),
    namespace: str = typer.Option(
        "default", envvar="FERRYMAN_TEMPORAL_NAMESPACE", help="Temporal namespace."
    ),
    prometheus: bool = typer.Option(
        False, "--prometheus", help="Also start Prometheus scraping routers and instances."
    ),
    prometheus_port: int = typer.Option(9090, help="Port of Prometheus's HTTP API and UI."),
    server_port: int = typer.Option(7490, help="Port of ferryman's HTTP API."),
    traffic_backend: str = typer.Option(
        "builtin", "--traffic-backend", help="What routes traffic: builtin or haproxy."
    ),
) -> None:
    """Start Temporal, the ferryman worker, the local platform agent and the HTTP API.

    On first start, creates a ferryman config with demo users (alice, bob,
    demo-approver) and prints where their tokens are.
    """
    if traffic_backend not in ("builtin", "haproxy"):
        console.print(f"error: --traffic-backend is builtin or haproxy, not {traffic_backend!r}")
        raise typer.Exit(2)
    stack = DevStack(
        StackConfig(
            temporal_port=temporal_port,
            ui_port=ui_port,
            agent_port=agent_port,
            router_base_port=router_base_port,
            temporal_address=temporal_address,
            namespace=namespace,
            build_slots=build_slots,
            prometheus=prometheus,
            prometheus_port=prometheus_port,
            traffic_backend=traffic_backend,
            server_port=server_port,
        )
    )
    stopped = threading.Event()
    if not detach:
        # Installed before anything starts: a Ctrl-C at any moment stops what was started.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stopped.set())
    info = stack.start()
    print_stack(info)
    if detach:
        console.print("running in the background; stop it with [bold]ferryman down[/]")
        return
    console.print("press Ctrl-C to stop")
    stopped.wait()
    console.print("stopping…")
    DevStack.stop(info)


@app.command()
def down() -> None:
    """Stop the dev stack recorded in the state home (``$FERRYMAN_HOME``).

    Nothing to stop is not an error: ``down`` then says where it looked and
    exits 0, so it can end any script.
    """
    info = load_info()
    if info is not None and not info.alive() and not any(pid_alive(p) for p in info.pids.values()):
        info_path().unlink(missing_ok=True)
        console.print(f"the dev stack recorded in {info_path()} had already stopped")
        return
    if DevStack.stop(info):
        console.print(f"dev stack stopped (it was recorded in {info_path()})")
        return
    console.print(
        f"no dev stack is recorded in {info_path()} (state home {paths.describe_home()});"
        " nothing to stop"
    )
    stray = stray_stack(DEFAULT_AGENT_URL)
    if stray is not None:
        console.print(stray)
