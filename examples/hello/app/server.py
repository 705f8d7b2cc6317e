"""A tiny HTTP service: answers with its greeting and the version it runs as."""

import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

GREETING = (Path(__file__).parent / "greeting.txt").read_text().strip()


def answer(path: str) -> tuple[int, dict[str, str]]:
    """Return the status and JSON body for a request path."""
    if path == "/healthz":
        return 200, {"status": "ok"}
    return 200, {
        "greeting": GREETING,
        "version": os.environ.get("FERRYMAN_VERSION", "dev"),
        "zone": os.environ.get("FERRYMAN_ZONE", "-"),
    }


class Handler(BaseHTTPRequestHandler):
    """Serves every GET with ``answer``."""

    def do_GET(self) -> None:
        status, body = answer(self.path)
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("PORT", "8080"))), Handler).serve_forever()
