"""Router benchmark: throughput and added latency versus calling an instance directly.

For each traffic backend asked for (``--backend builtin|haproxy|both``),
starts the local agent with that backend and two fixture instances (v1 and
v2) in one region, routes 95/5 between them, and drives the same load
generator at

1. the router and one instance directly, closed-loop, in alternating rounds
   (requests per second of each);
2. both again, paced at 500 requests per second, in alternating rounds
   (p50 and p99 latency; the router's added latency is the difference);

and counts the exact share v2 got of the 100,000 requests routed in (1).

    python bench/router.py [--quick] [--backend builtin|haproxy|both]

The last line is JSON: router_rps, direct_rps, added_p50_ms, added_p99_ms and
split_error_pp for the built-in router; haproxy_rps, haproxy_direct_rps,
haproxy_added_p99_ms and haproxy_split_error_pp for HAProxy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path

from ferryman.platform.models import RouteTable
from ferryman.testing.platform import LocalPlatform
from ferryman.traffic import LoadConfig, LoadStats, percentile, run_load

SPLIT_REQUESTS = 100_000
CANARY_PERCENT = 5


def merge(runs: list[LoadStats]) -> tuple[int, int, float, dict[str, int]]:
    """Requests, errors, seconds and requests per version of several runs."""
    versions: dict[str, int] = {}
    for stats in runs:
        for version, s in stats.by_version.items():
            versions[version] = versions.get(version, 0) + s.requests
    return (
        sum(s.requests for s in runs),
        sum(s.errors for s in runs),
        sum(s.elapsed for s in runs),
        versions,
    )


async def bench(quick: bool, concurrency: int, backend: str) -> dict[str, float]:
    """Run every phase against one traffic backend; returns its figures."""
    print(f"== {backend}", flush=True)
    with tempfile.TemporaryDirectory(prefix="ferryman-bench-") as root:
        async with LocalPlatform(Path(root), traffic_backend=backend) as platform:
            await asyncio.gather(platform.deploy("r1", "a", "v1"), platform.deploy("r1", "a", "v2"))
            table = RouteTable(
                service="web", weights={"v1": 100 - CANARY_PERCENT, "v2": CANARY_PERCENT}
            )
            await platform.route("r1", table)
            router = await platform.router_url("r1")
            v1 = next(i for i in await platform.provider.instances() if i.version == "v1")
            direct = f"http://127.0.0.1:{v1.port}"

            # Warm both paths (connection pools, code paths) before measuring.
            for target in (router, direct):
                await run_load(LoadConfig(targets=(target,), rps=None, requests=2000))

            rounds = 4 if quick else 8
            per_round = SPLIT_REQUESTS // rounds
            routed: list[LoadStats] = []
            straight: list[LoadStats] = []
            for index in range(rounds):
                for target, runs in ((router, routed), (direct, straight)):
                    stats = await run_load(
                        LoadConfig(
                            targets=(target,),
                            rps=None,
                            requests=per_round if target == router else per_round // 2,
                            concurrency=concurrency,
                        )
                    )
                    runs.append(stats)
                    print(
                        f"round {index + 1}/{rounds} {'router' if target == router else 'direct'}:"
                        f" {stats.rate:7.0f} req/s, errors {stats.errors}",
                        flush=True,
                    )
            r_requests, r_errors, r_seconds, versions = merge(routed)
            d_requests, d_errors, d_seconds, _ = merge(straight)
            router_rps, direct_rps = r_requests / r_seconds, d_requests / d_seconds

            seconds = 5.0 if quick else 15.0
            paced: dict[str, list[float]] = {"router": [], "direct": []}
            late = {"router": 0, "direct": 0}
            for _ in range(2):
                for name, target in (("router", router), ("direct", direct)):
                    stats = await run_load(
                        LoadConfig(targets=(target,), rps=500, duration=seconds, concurrency=64)
                    )
                    paced[name] += stats.latencies()
                    late[name] += stats.late
            p = {name: (percentile(v, 50), percentile(v, 99)) for name, v in paced.items()}

    share = 100 * versions.get("v2", 0) / r_requests
    print(f"router: {router_rps:7.0f} req/s over {r_requests} requests ({r_errors} errors)")
    print(f"direct: {direct_rps:7.0f} req/s over {d_requests} requests ({d_errors} errors)")
    print(f"router/direct throughput: {router_rps / direct_rps:.2f}")
    for name in ("direct", "router"):
        p50, p99 = p[name]
        print(
            f"{name} at 500 req/s: p50 {1000 * p50:.2f} ms, p99 {1000 * p99:.2f} ms"
            f" ({late[name]} requests sent late)"
        )
    print(
        f"split: v2 got {versions.get('v2', 0)} of {r_requests} = {share:.3f}%"
        f" (weight {CANARY_PERCENT}%)"
    )
    return {
        "router_rps": round(router_rps, 1),
        "direct_rps": round(direct_rps, 1),
        "throughput_ratio": round(router_rps / direct_rps, 3),
        "added_p50_ms": round(1000 * (p["router"][0] - p["direct"][0]), 3),
        "added_p99_ms": round(1000 * (p["router"][1] - p["direct"][1]), 3),
        "split_error_pp": round(abs(share - CANARY_PERCENT), 4),
        "split_requests": r_requests,
    }


def main() -> int:
    """Parse arguments, run the benchmark, print the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="shorter run (under 2 minutes)")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument(
        "--backend", choices=("builtin", "haproxy", "both"), default="builtin",
        help="traffic backend(s) to measure against a direct connection",
    )  # fmt: skip
    args = parser.parse_args()
    backends = ("builtin", "haproxy") if args.backend == "both" else (args.backend,)
    figures: dict[str, float] = {}
    for backend in backends:
        measured = asyncio.run(bench(args.quick, args.concurrency, backend))
        if backend == "builtin":
            figures.update(measured)
        else:
            figures.update(
                {
                    "haproxy_rps": measured["router_rps"],
                    "haproxy_direct_rps": measured["direct_rps"],
                    "haproxy_throughput_ratio": measured["throughput_ratio"],
                    "haproxy_added_p50_ms": measured["added_p50_ms"],
                    "haproxy_added_p99_ms": measured["added_p99_ms"],
                    "haproxy_split_error_pp": measured["split_error_pp"],
                }
            )
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
