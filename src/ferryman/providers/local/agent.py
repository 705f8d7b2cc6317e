"""The local platform agent: an HTTP API over instances and per-region routers.

Run it as its own long-lived process::

    python -m ferryman.providers.local.agent --state-dir DIR --port 7300 \\
        --router-base-port 7400

Stopping the agent (SIGTERM, SIGINT) leaves its instances and router
processes running unless ``--stop-instances-on-exit`` is given; the next
agent on the same state dir re-adopts them. ``--traffic-backend haproxy``
routes through HAProxy instead of ferryman's own routers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from ferryman import paths
from ferryman.providers.local import holds
from ferryman.providers.local.agent_errors import AgentError, AgentStartError, BadRequest
from ferryman.providers.local.core import AgentCore, check_names
from ferryman.providers.local.state import DEFAULT_ENVIRONMENT
from ferryman.providers.local.wire import (
    AbortBody,
    AgentHealth,
    CommitBody,
    EjectBody,
    PrepareBody,
    RequestLogResult,
    RetireBody,
    RoutesBody,
    StageBody,
)
from ferryman.providers.local.zonal import DEFAULT_COMMIT_LEAD_MS

log = logging.getLogger("ferryman.agent")

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_CORE = web.AppKey("core", AgentCore)


def _json(model: BaseModel | dict[str, str]) -> web.Response:
    payload = model.model_dump(mode="json") if isinstance(model, BaseModel) else model
    return web.json_response(payload)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": " ".join(message.split())}, status=status)


def _validation_message(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"invalid body: {where}: {first['msg']}{more}"


@web.middleware
async def _errors(request: web.Request, handler: _Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except AgentError as error:
        return _error(error.status, str(error))
    except ValidationError as error:
        return _error(400, _validation_message(error))
    except web.HTTPException as error:
        if error.status < 400:
            raise
        if error.status == 404:
            return _error(404, f"no such endpoint: {request.method} {request.path}")
        if error.status == 405:
            return _error(405, f"{request.method} not allowed on {request.path}")
        return _error(error.status, error.reason)
    except Exception as error:
        log.exception("%s %s failed", request.method, request.path)
        return _error(500, f"internal error: {type(error).__name__}: {error}")


async def _body(request: web.Request) -> object:
    try:
        return await request.json()
    except json.JSONDecodeError:
        raise BadRequest("body is not valid JSON") from None


async def _agent_health(request: web.Request) -> web.Response:
    return _json(AgentHealth(ok=True, pid=os.getpid()))


def _environment(request: web.Request) -> str:
    return request.match_info.get("environment", DEFAULT_ENVIRONMENT)


async def _prepare(request: web.Request) -> web.Response:
    body = PrepareBody.model_validate(await _body(request))
    core = request.app[_CORE]
    return _json(await core.prepare(_environment(request), body.key, body.request, body.secrets))


async def _health(request: web.Request) -> web.Response:
    m = request.match_info
    report = await request.app[_CORE].health(
        _environment(request), m["region"], m["zone"], m["service"], m["version"]
    )
    return _json(report)


async def _routes(request: web.Request) -> web.Response:
    body = RoutesBody.model_validate(await _body(request))
    m = request.match_info
    core = request.app[_CORE]
    result = await core.set_routes(
        _environment(request), body.key, m["region"], m["service"], body.routes
    )
    return _json(result)


async def _stage(request: web.Request) -> web.Response:
    body = StageBody.model_validate(await _body(request))
    core = request.app[_CORE]
    environment, region = _environment(request), request.match_info["region"]
    check_names(environment=environment, region=region)
    result = await core.zonal.stage(environment, body.key, region, body.zones, body.routes)
    return _json(result)


async def _commit(request: web.Request) -> web.Response:
    body = CommitBody.model_validate(await _body(request))
    core = request.app[_CORE]
    environment, region = _environment(request), request.match_info["region"]
    check_names(environment=environment, region=region)
    result = await core.zonal.commit(environment, body.key, region, body.generation, body.lead_ms)
    return _json(result)


async def _abort(request: web.Request) -> web.Response:
    body = AbortBody.model_validate(await _body(request))
    core = request.app[_CORE]
    environment, region = _environment(request), request.match_info["region"]
    check_names(environment=environment, region=region)
    return _json(await core.zonal.abort(environment, body.key, region, body.generation))


async def _zone_routes(request: web.Request) -> web.Response:
    body = RoutesBody.model_validate(await _body(request))
    m = request.match_info
    environment = _environment(request)
    check_names(environment=environment, region=m["region"], zone=m["zone"])
    if body.routes.service != m["service"]:
        raise BadRequest(
            f"route table is for {body.routes.service!r}, the URL names {m['service']!r}"
        )
    core = request.app[_CORE]
    result = await core.zonal.set_zone(environment, body.key, m["region"], m["zone"], body.routes)
    return _json(result)


async def _zonal(request: web.Request) -> web.Response:
    environment, region = _environment(request), request.match_info["region"]
    check_names(environment=environment, region=region)
    return _json(await request.app[_CORE].zonal.state(environment, region))


async def _request_log(request: web.Request) -> web.Response:
    raw = request.query.get("since", "0")
    try:
        since = float(raw)
    except ValueError:
        raise BadRequest(f"since must be a timestamp (seconds), got {raw!r}") from None
    core = request.app[_CORE]
    entries = await core.request_log(_environment(request), request.match_info["region"], since)
    return _json(RequestLogResult(entries=entries))


async def _state(request: web.Request) -> web.Response:
    m = request.match_info
    return _json(request.app[_CORE].state(_environment(request), m["region"], m["service"]))


async def _retire(request: web.Request) -> web.Response:
    body = RetireBody.model_validate(await _body(request))
    return _json(await request.app[_CORE].retire(_environment(request), body))


async def _instances(request: web.Request) -> web.Response:
    environment = request.match_info.get("environment")
    return _json(request.app[_CORE].instances(environment))


async def _events(request: web.Request) -> web.Response:
    since = request.query.get("since", "0")
    if not since.isdigit():
        raise BadRequest(f"since must be a sequence number, got {since!r}")
    return _json(request.app[_CORE].events(request.query.get("kind"), int(since)))


async def _routers(request: web.Request) -> web.Response:
    return _json(request.app[_CORE].routers(_environment(request)))


async def _eject(request: web.Request) -> web.Response:
    body = EjectBody.model_validate(await _body(request))
    request.app[_CORE].eject(body.environment, body.region, body.instance)
    return web.json_response({})


async def _router_page(request: web.Request) -> web.Response:
    m = request.match_info
    raw = request.query.get("window", "60")
    try:
        window = float(raw)
    except ValueError:
        raise BadRequest(f"window must be seconds, got {raw!r}") from None
    content_type, text = request.app[_CORE].router_page(
        m["environment"], m["region"], "/" + m["page"], window
    )
    return web.Response(text=text, content_type=content_type, charset="utf-8")


async def _environments(request: web.Request) -> web.Response:
    return web.json_response(request.app[_CORE].environments())


async def _service_metrics(request: web.Request) -> web.Response:
    text = await request.app[_CORE].service_metrics()
    return web.Response(text=text, content_type="text/plain", charset="utf-8")


async def _scrape_targets(request: web.Request) -> web.Response:
    return web.json_response(request.app[_CORE].scrape_targets())


_SCOPED: tuple[tuple[str, str, _Handler], ...] = (
    ("POST", "/prepare", _prepare),
    ("GET", "/health/{region}/{zone}/{service}/{version}", _health),
    ("PUT", "/routes/{region}/{service}", _routes),
    ("GET", "/state/{region}/{service}", _state),
    ("POST", "/retire", _retire),
    ("GET", "/instances", _instances),
    ("GET", "/routers", _routers),
    ("POST", "/switch/{region}/stage", _stage),
    ("POST", "/switch/{region}/commit", _commit),
    ("POST", "/switch/{region}/abort", _abort),
    ("PUT", "/routes/{region}/{service}/zones/{zone}", _zone_routes),
    ("GET", "/zonal/{region}", _zonal),
    ("GET", "/request-log/{region}", _request_log),
)
"""Calls that act within one environment: ``/v1/env/{environment}/…``.

The same paths without the prefix (``/v1/prepare``…) act in environment
``default``, as they did before environments existed; ``/v1/instances`` alone
lists every environment's instances.
"""


def build_app(core: AgentCore) -> web.Application:
    """The agent's HTTP API over a started core."""
    app = web.Application(middlewares=[_errors])
    app[_CORE] = core
    for method, path, handler in _SCOPED:
        app.router.add_route(method, "/v1/env/{environment}" + path, handler)
        app.router.add_route(method, "/v1" + path, handler)
    app.add_routes(
        [
            web.get("/v1/health", _agent_health),
            web.get("/v1/environments", _environments),
            web.post("/v1/eject", _eject),
            web.get("/v1/env/{environment}/router/{region}/{page:.+}", _router_page),
            web.get("/v1/events", _events),
            web.get("/v1/metrics/services", _service_metrics),
            web.get("/v1/scrape-targets", _scrape_targets),
        ]
    )
    if core.holds is not None:
        app.add_routes(holds.routes(core.holds))
    return app


async def serve(args: argparse.Namespace) -> None:
    """Run the agent until SIGTERM or SIGINT.

    Raises:
        AgentStartError: The agent could not start.
    """
    core = AgentCore(
        Path(args.state_dir),
        args.host,
        args.router_base_port,
        traffic=args.traffic_backend,
        haproxy={"binary": args.haproxy_binary} if args.haproxy_binary else None,
        commit_lead_ms=args.commit_lead_ms,
        holds=holds.enabled(os.environ),
    )
    runner = web.AppRunner(build_app(core), access_log=None)
    try:
        await core.start()
        await runner.setup()
        try:
            await web.TCPSite(runner, args.host, args.port, reuse_address=True).start()
        except OSError as error:
            raise AgentStartError(f"cannot listen on {args.host}:{args.port}: {error}") from None
        port = runner.addresses[0][1]
        await core.serving(f"http://{args.host}:{port}")
        print(f"ferryman-agent listening on http://{args.host}:{port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        log.info("stopping")
    finally:
        await runner.cleanup()
        await core.close(stop_instances=args.stop_instances_on_exit)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ferryman agent",
        description="ferryman's local platform agent: runs instances and per-region routers.",
    )
    parser.add_argument(
        "--state-dir", default=None, help="state directory (default: $FERRYMAN_HOME/agent)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface for the API and routers")
    parser.add_argument("--port", type=int, default=7300, help="API port (0 picks one)")
    parser.add_argument(
        "--router-base-port",
        type=int,
        default=7400,
        help="first port tried for a region's router (0 picks any free port)",
    )
    parser.add_argument(
        "--stop-instances-on-exit",
        action="store_true",
        help="stop every instance and router when the agent stops (default: leave them running)",
    )
    parser.add_argument(
        "--traffic-backend",
        choices=("builtin", "haproxy"),
        default="builtin",
        help="what routes each region's traffic: ferryman's own router processes, or HAProxy",
    )
    parser.add_argument(
        "--haproxy-binary", default=None, help="the haproxy executable (default: haproxy on PATH)"
    )
    parser.add_argument(
        "--commit-lead-ms",
        type=float,
        default=DEFAULT_COMMIT_LEAD_MS,
        help="zonal switches: zone routers activate a commit this far ahead on their shared"
        " clock (0: each on receipt of the commit)",
    )
    return parser


def _run(main: Coroutine[Any, Any, None]) -> None:
    """Run the agent's loop on uvloop when it is installed (the routers are faster on it)."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the agent; returns the exit status."""
    args = _parser().parse_args(argv)
    args.state_dir = (
        str(Path(args.state_dir).resolve()) if args.state_dir else str(paths.agent_dir())
    )
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s ferryman-agent %(levelname)s %(message)s",
    )
    try:
        _run(serve(args))
    except AgentStartError as error:
        print(f"ferryman-agent: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
