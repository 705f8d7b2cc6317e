"""The catalog service of the release-train example: says which version it runs."""

import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    """Answers every GET with the service's name and version."""

    def do_GET(self) -> None:
        body = {"service": "catalog", "version": os.environ.get("FERRYMAN_VERSION", "dev")}
        payload = json.dumps({"status": "ok"} if self.path == "/healthz" else body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("PORT", "8080"))), Handler).serve_forever()
