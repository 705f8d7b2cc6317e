"""What HAProxy is told, as pure functions: names, weights, rules, the config file.

Per (environment, region) one frontend; per routed service two *slot*
backends holding every running instance of the service (weights give the
split) and one backend per version (for rules). A new table is written into
the inactive slot (``set weight``, ``add map``) and made current by one
``set map`` of ``backends.map``: a request reads the slot once, so it is
routed entirely by the old table or entirely by the new one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from ferryman.platform.models import RouteTable
from ferryman.providers.local.traffic import Backend, Routing, Where

MAX_WEIGHT = 256
OWN_PATHS = ("/metrics", "/_ferryman/stats", "/_ferryman/table")


def frontend(where: Where) -> str:
    """The frontend of an (environment, region)."""
    return f"f:{where[0]}:{where[1]}"


def slot_backend(where: Where, service: str, slot: int) -> str:
    """One of a service's two split backends."""
    return f"s:{where[0]}:{where[1]}:{service}:{slot}"


def version_backend(where: Where, service: str, version: str) -> str:
    """The backend of one version (where rules send requests)."""
    return f"v:{where[0]}:{where[1]}:{service}:{version}"


def server(backend: Backend) -> str:
    """A server's name: ``version:zone:instance`` (read back into response headers)."""
    return f"{backend.version}:{backend.zone}:{backend.id}"


def weights(table: RouteTable | None, backends: tuple[Backend, ...]) -> dict[str, int]:
    """Server name → weight so that each version gets exactly its share of the split.

    A version's weight is divided evenly among its serving instances (scaled by
    the least common multiple of their counts, so it stays an integer);
    instances that do not serve, or whose version has no weight, get 0.
    """
    serving: dict[str, list[Backend]] = {}
    for b in backends:
        if b.serving and table is not None and table.weights.get(b.version, 0) > 0:
            serving.setdefault(b.version, []).append(b)
    result = {server(b): 0 for b in backends}
    if not serving or table is None:
        return result
    scale = math.lcm(*(len(v) for v in serving.values()))
    raw = {
        server(b): table.weights[version] * scale // len(members)
        for version, members in serving.items()
        for b in members
    }
    top = max(raw.values())
    if top > MAX_WEIGHT:  # keep proportions as well as 1..256 allows
        raw = {name: max(1, round(w * MAX_WEIGHT / top)) for name, w in raw.items()}
    result.update(raw)
    return result


def rules_value(where: Where, table: RouteTable) -> str | None:
    """The ``rules.map`` value of a table (read by ``ferryman.lua``), or None without rules."""
    if not table.rules:
        return None
    parts = []
    for rule in table.rules:
        target = quote(version_backend(where, table.service, rule.version), safe="")
        if rule.header is not None:
            parts.append(f"h,{quote(rule.header, safe='')},{quote(rule.equals or '', safe='')},")
        elif rule.cookie is not None:
            parts.append(f"c,{quote(rule.cookie, safe='')},{quote(rule.equals or '', safe='')},")
        else:
            parts.append(f"b,{rule.buckets},,")
        parts[-1] += target
    return f"{quote(table.user_header, safe='')}|{'/'.join(parts)}"


def map_entries(
    routings: Mapping[Where, Routing], slots: Mapping[tuple[Where, str], int]
) -> dict[str, dict[str, str]]:
    """The content of every map file (by file name) for the slots in force."""
    backends: dict[str, str] = {}
    rules: dict[str, str] = {}
    generations: dict[str, str] = {}
    for where, routing in sorted(routings.items()):
        for service, table in sorted(routing.tables.items()):
            slot = slots.get((where, service), 0)
            name = slot_backend(where, service, slot)
            backends[f"{frontend(where)}/{service}"] = name
            if len(routing.tables) == 1:
                backends[f"{frontend(where)}/*"] = name
            generations[name] = str(routing.generation)
            value = rules_value(where, table)
            if value is not None:
                rules[name] = value
    return {"backends.map": backends, "rules.map": rules, "generations.map": generations}


def render(
    routings: Mapping[Where, Routing],
    ports: Mapping[Where, int],
    slots: Mapping[tuple[Where, str], int],
    directory: Path,
    host: str,
    agent: str | None,
) -> str:
    """The whole ``haproxy.cfg`` for every region (weights as they are in force)."""
    maps = {name: directory / name for name in ("backends.map", "rules.map", "generations.map")}
    lines = [
        "global",
        "  nbthread 1",
        f"  stats socket {directory / 'admin.sock'} level admin",
        f"  lua-load {Path(__file__).with_name('ferryman.lua')}",
        "  hard-stop-after 30s",
        "defaults",
        "  mode http",
        "  timeout connect 2s",
        "  timeout client 60s",
        "  timeout server 300s",
        "  timeout http-keep-alive 60s",
        "  option redispatch",
        "  retries 2",
        "backend ferryman-agent",
        f"  server agent {(agent or 'http://127.0.0.1:9').removeprefix('http://')}",
        "backend ferryman-none",
        '  http-request return status 404 content-type text/plain string "no routes set"',
    ]
    own = " ".join(OWN_PATHS)
    for where, routing in sorted(routings.items()):
        fe = frontend(where)
        env, region = where
        lines += [
            f"frontend {fe}",
            f"  bind {host}:{ports[where]}",
            "  acl own method GET HEAD",
            f"  acl own_path path {own}",
            "  http-request set-var(txn.label) req.hdr(host),field(1,:),field(1,.)",
            f"  http-request set-var(txn.be) str({fe}/),concat(,txn.label,)"
            f",map({maps['backends.map']})",
            f"  http-request set-var(txn.be) str({fe}/*),map({maps['backends.map']})"
            " unless { var(txn.be) -m found }",
            f"  http-request set-var(txn.rules) var(txn.be),map({maps['rules.map']})"
            " if { var(txn.be) -m found }",
            "  http-request lua.ferryman_rules if { var(txn.rules) -m found }",
            f"  http-request set-var(txn.gen) var(txn.be),map({maps['generations.map']},0)",
            "  http-request set-var(txn.own) bool(1) if own own_path",
            f"  http-request set-path /v1/env/{env}/router/{region}%[path] if own own_path",
            "  use_backend ferryman-agent if { var(txn.own) -m found }",
            "  use_backend %[var(txn.vbe)] if { var(txn.vbe) -m found }",
            "  use_backend %[var(txn.be)] if { var(txn.be) -m found }",
            "  default_backend ferryman-none",
            "  http-response set-header X-Ferryman-Version %[srv_name,field(1,:)]"
            " unless { var(txn.own) -m found }",
            "  http-response set-header X-Ferryman-Zone %[srv_name,field(2,:)]"
            " unless { var(txn.own) -m found }",
            "  http-response set-header X-Ferryman-Instance %[srv_name,field(3,:)]"
            " unless { var(txn.own) -m found }",
            "  http-response set-header X-Ferryman-Generation %[var(txn.gen)]",
        ]
        for service, table in sorted(routing.tables.items()):
            members = tuple(b for b in routing.backends if b.service == service)
            current = weights(table, members)
            for slot in (0, 1):
                lines += [f"backend {slot_backend(where, service, slot)}", "  balance roundrobin"]
                lines += [
                    f"  server {server(b)} 127.0.0.1:{b.port} weight {current[server(b)]}"
                    for b in members
                ]
            for version in sorted({b.version for b in members}):
                lines += [f"backend {version_backend(where, service, version)}"]
                lines += [
                    f"  server {server(b)} 127.0.0.1:{b.port} weight {1 if b.serving else 0}"
                    for b in members
                    if b.version == version
                ]
    return "\n".join(lines) + "\n"


def write_maps(directory: Path, entries: Mapping[str, Mapping[str, str]]) -> None:
    """Write the map files HAProxy loads at (re)start."""
    for name, content in entries.items():
        text = "".join(f"{key} {value}\n" for key, value in sorted(content.items()))
        (directory / name).write_text(text)
