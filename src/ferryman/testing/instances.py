"""A small HTTP service to run as instances in tests and benchmarks.

Its behaviour is set per version through environment variables, so a test can
deploy a "bad" version next to a good one:

- ``FIXTURE_ERROR_RATE`` (0-1): share of ``/`` and ``/buy`` answered with 500;
- ``FIXTURE_LATENCY_MS``: added to every answer of ``/`` and ``/buy``;
- ``FIXTURE_CONVERSION_RATE`` (0-1): share of ``/buy`` counted as a conversion;
- ``FIXTURE_HEALTH_FILE``: while this file exists, ``/healthz`` answers 503.

It answers ``GET /`` with its version, ``POST /`` with the body's length and
sha256, and ``GET /metrics`` with ``fixture_requests_total`` and
``fixture_conversions_total``.
"""

from __future__ import annotations

import sys
from pathlib import Path

SERVER = """\
import asyncio, hashlib, os, random
from aiohttp import web

VERSION = os.environ.get("FERRYMAN_VERSION", "?")
ERROR_RATE = float(os.environ.get("FIXTURE_ERROR_RATE", "0"))
LATENCY = float(os.environ.get("FIXTURE_LATENCY_MS", "0")) / 1000
CONVERSION = float(os.environ.get("FIXTURE_CONVERSION_RATE", "0"))
HEALTH_FILE = os.environ.get("FIXTURE_HEALTH_FILE", "")
counts = {"requests": 0, "errors": 0, "conversions": 0}


async def behave():
    counts["requests"] += 1
    if LATENCY:
        await asyncio.sleep(LATENCY)
    if ERROR_RATE and random.random() < ERROR_RATE:
        counts["errors"] += 1
        return web.Response(status=500, text="injected error\\n")
    return None


async def index(request):
    failed = await behave()
    return failed or web.Response(text=VERSION, headers={"X-Seen-Host": request.host})


async def buy(request):
    failed = await behave()
    if failed:
        return failed
    if random.random() < CONVERSION:
        counts["conversions"] += 1
        return web.Response(text="converted")
    return web.Response(text="browsed")


async def echo(request):
    body = await request.read()
    return web.Response(text=f"{len(body)} {hashlib.sha256(body).hexdigest()}")


async def health(request):
    if HEALTH_FILE and os.path.exists(HEALTH_FILE):
        return web.Response(status=503, text="told to fail")
    return web.Response(text="ok")


async def metrics(request):
    return web.Response(text=(
        "# TYPE fixture_requests_total counter\\n"
        f"fixture_requests_total {counts['requests']}\\n"
        "# TYPE fixture_conversions_total counter\\n"
        f"fixture_conversions_total {counts['conversions']}\\n"
    ))


app = web.Application()
app.add_routes([
    web.get("/", index), web.post("/", echo), web.get("/buy", buy),
    web.get("/healthz", health), web.get("/metrics", metrics),
])
web.run_app(app, host="127.0.0.1", port=int(os.environ["PORT"]), access_log=None,
            print=None, handle_signals=True)
"""


def write_artifact(directory: Path) -> Path:
    """Write the service into ``directory`` (created) as a built artifact; returns it."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "server.py").write_text(SERVER)
    return directory


def command() -> str:
    """The command that starts one instance (with this interpreter, which has aiohttp)."""
    return f"exec {sys.executable} server.py"
