"""A real Prometheus for the dev stack, scraping the routers and the instances' own metrics.

The Debian ``prometheus`` binary (or any on ``PATH``) runs with a generated
config: routers are found through the agent's HTTP service discovery
(``/v1/scrape-targets``), so a region added later is scraped without a
restart, and the instances' own ``/metrics`` come through the agent
(``/v1/metrics/services``), labelled with region, zone, service and version.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ferryman.devstack.processes import spawn, stop_group, wait_until
from ferryman.errors import DevStackError

_DEBIAN = Path("/usr/bin/prometheus")


def prometheus_binary() -> str:
    """The ``prometheus`` executable.

    Raises:
        DevStackError: None is installed.
    """
    found = shutil.which("prometheus") or (str(_DEBIAN) if _DEBIAN.exists() else None)
    if found is None:
        raise DevStackError(
            "prometheus is not installed: `apt-get install prometheus` (Debian/Ubuntu)"
            " or put a prometheus binary on PATH"
        )
    return found


def scrape_config(agent_url: str, interval: float = 5.0) -> str:
    """The ``prometheus.yml`` text (JSON, which is YAML) for an agent's routers and instances."""
    agent = urlsplit(agent_url)
    every = f"{interval:g}s"
    config = {
        "global": {"scrape_interval": every, "evaluation_interval": every},
        "scrape_configs": [
            {
                "job_name": "ferryman-routers",
                "honor_labels": True,
                "http_sd_configs": [
                    {"url": f"{agent_url.rstrip('/')}/v1/scrape-targets", "refresh_interval": "2s"}
                ],
            },
            {
                "job_name": "ferryman-services",
                "honor_labels": True,
                "metrics_path": "/v1/metrics/services",
                "static_configs": [{"targets": [agent.netloc]}],
            },
        ],
    }
    return json.dumps(config, indent=2) + "\n"


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


@dataclass
class PrometheusProcess:
    """Prometheus as a child process with its own data dir and generated config.

    Attributes:
        data_dir: Holds ``prometheus.yml``, the TSDB and ``prometheus.log``.
        port: Port of its HTTP API and UI on 127.0.0.1.
        agent_url: The agent whose routers and instances it scrapes.
        interval: Scrape interval in seconds.
    """

    data_dir: Path
    port: int
    agent_url: str
    interval: float = 5.0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL of its HTTP API."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60) -> PrometheusProcess:
        """Write the config, start Prometheus and wait until it is ready.

        Raises:
            DevStackError: The binary is missing, or Prometheus exited or never became ready.
        """
        binary = prometheus_binary()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "prometheus.yml"
        config.write_text(scrape_config(self.agent_url, self.interval))
        argv = [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={self.data_dir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--storage.tsdb.retention.time=2d",
        ]
        log = self.data_dir / "prometheus.log"
        self.process = spawn(argv, log)
        wait_until(lambda: _ready(self.url), timeout_s, "prometheus", self.process, log)
        return self

    def stop(self) -> None:
        """Stop Prometheus."""
        if self.process is not None:
            stop_group(self.process.pid)
            self.process = None
