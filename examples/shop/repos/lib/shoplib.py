"""shoplib: the shop's shared library — behaviour config, metrics and the HTTP server.

A service calls ``serve("catalog", extra_routes)``. Behaviour comes from
``config/behaviour.json`` beside the service's zipapp (``error_rate`` 0..1 →
HTTP 500s, ``latency_ms`` added delay, ``conversion_rate`` for ``/buy``), whose
``regions`` key may change them in one region (``{"regions": {"eu-west":
{"error_rate": 0.3}}}``: a bug that only shows where ``$FERRYMAN_REGION`` is
eu-west), overridable with ``SHOP_ERROR_RATE``, ``SHOP_LATENCY_MS`` and
``SHOP_CONVERSION_RATE``. ``/metrics`` counts requests by code, visits to
``/buy`` (``shop_checkouts_total``, the exposures of an A/B experiment) and the
visits that converted (``shop_conversions_total``).
"""

from __future__ import annotations

import json
import os
import random
import sys
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

Route = Callable[[], dict[str, object]]


@dataclass(frozen=True)
class Behaviour:
    """How a service misbehaves (or not)."""

    error_rate: float = 0.0
    latency_ms: float = 0.0
    conversion_rate: float = 0.1


def load_behaviour(config: Path, env: dict[str, str] | None = None) -> Behaviour:
    """Read ``config`` (missing → defaults), its region's changes, then the ``SHOP_*`` overrides."""
    env = dict(os.environ if env is None else env)
    data = json.loads(config.read_text()) if config.exists() else {}
    data = {**data, **data.get("regions", {}).get(env.get("FERRYMAN_REGION", ""), {})}
    values = {
        "error_rate": float(env.get("SHOP_ERROR_RATE", data.get("error_rate", 0.0))),
        "latency_ms": float(env.get("SHOP_LATENCY_MS", data.get("latency_ms", 0.0))),
        "conversion_rate": float(env.get("SHOP_CONVERSION_RATE", data.get("conversion_rate", 0.1))),
    }
    for name in ("error_rate", "conversion_rate"):
        if not 0.0 <= values[name] <= 1.0:
            raise ValueError(f"{name} must be within 0..1, got {values[name]}")
    return Behaviour(**values)


class Metrics:
    """Prometheus counters: requests by code, checkouts (``/buy`` visits), conversions."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.requests: dict[str, int] = {}
        self.checkouts = 0
        self.conversions = 0
        self._lock = threading.Lock()

    def request(self, code: int) -> None:
        with self._lock:
            self.requests[str(code)] = self.requests.get(str(code), 0) + 1

    def checkout(self, converted: bool) -> None:
        """Count one visit to ``/buy`` and whether it converted."""
        with self._lock:
            self.checkouts += 1
            self.conversions += converted

    def convert(self) -> None:
        with self._lock:
            self.conversions += 1

    def text(self) -> str:
        """The counters in Prometheus text exposition format."""
        label = f'service="{self.service}"'
        lines = ["# TYPE shop_requests_total counter"]
        with self._lock:
            for code, count in sorted(self.requests.items()):
                lines.append(f'shop_requests_total{{{label},code="{code}"}} {count}')
            lines += ["# TYPE shop_checkouts_total counter"]
            lines.append(f"shop_checkouts_total{{{label}}} {self.checkouts}")
            lines += ["# TYPE shop_conversions_total counter"]
            lines.append(f"shop_conversions_total{{{label}}} {self.conversions}")
        return "\n".join(lines) + "\n"


def make_handler(
    service: str, behaviour: Behaviour, metrics: Metrics, routes: dict[str, Route]
) -> type[BaseHTTPRequestHandler]:
    """A request handler for one service."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:
            return

        def _send(self, code: int, body: bytes, kind: str = "application/json") -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _json(self, code: int, data: dict[str, object]) -> None:
            metrics.request(code)
            self._send(code, json.dumps(data).encode())

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                self._send(200, b"ok\n", "text/plain")
                return
            if path == "/metrics":
                self._send(200, metrics.text().encode(), "text/plain; version=0.0.4")
                return
            if behaviour.latency_ms:
                time.sleep(behaviour.latency_ms / 1000)
            if random.random() < behaviour.error_rate:
                self._json(500, {"service": service, "error": "injected failure"})
                return
            if path == "/":
                self._json(200, identity(service))
            elif path == "/buy":
                converted = random.random() < behaviour.conversion_rate
                metrics.checkout(converted)
                self._json(200, {**identity(service), "converted": converted})
            elif path in routes:
                self._json(200, {**identity(service), **routes[path]()})
            else:
                self._json(404, {"service": service, "error": f"no route {path}"})

    return Handler


def identity(service: str) -> dict[str, object]:
    """What every answer says about who served it."""
    return {
        "service": service,
        "version": os.environ.get("FERRYMAN_VERSION", "dev"),
        "zone": os.environ.get("FERRYMAN_ZONE", ""),
        "platform": platform_of(),
    }


def platform_of() -> str:
    """The platform stamped into the running zipapp at build time."""
    try:
        with zipfile.ZipFile(sys.argv[0]) as archive:
            return archive.read("PLATFORM").decode().strip()
    except (OSError, KeyError, zipfile.BadZipFile):
        return "unknown"


def serve(service: str, routes: dict[str, Route] | None = None) -> None:
    """Serve ``service`` on ``$PORT`` until killed."""
    base = Path(sys.argv[0]).resolve().parent
    behaviour = load_behaviour(base / "config" / "behaviour.json")
    handler = make_handler(service, behaviour, Metrics(service), routes or {})
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("PORT", "8080"))), handler)
    server.daemon_threads = True
    server.serve_forever()
