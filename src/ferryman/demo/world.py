"""What production serves, asked the way a user asks: real requests through every router."""

from __future__ import annotations

import httpx

from ferryman.demo.context import Demo

SERVICES = ("catalog", "checkout")


async def served(
    routers: dict[str, str], services: tuple[str, ...] = SERVICES, users: int = 30
) -> dict[str, dict[str, list[str]]]:
    """Region → service → the versions that answered ``users`` different users (sorted).

    A request that fails counts as ``failed``; a router that does not answer as ``down``.
    """
    found: dict[str, dict[str, list[str]]] = {}
    async with httpx.AsyncClient(timeout=10) as http:
        for region, url in sorted(routers.items()):
            for service in services:
                versions: set[str] = set()
                for user in range(users):
                    headers = {"Host": service, "X-User-Id": f"check-{user}"}
                    try:
                        answer = await http.get(url, headers=headers)
                    except httpx.HTTPError:
                        versions.add("down")
                        continue
                    ok = answer.status_code == 200
                    versions.add(answer.headers.get("X-Ferryman-Version", "-") if ok else "failed")
                found.setdefault(region, {})[service] = sorted(versions)
    return found


def show_served(
    demo: Demo, routers: dict[str, str], found: dict[str, dict[str, list[str]]]
) -> None:
    """Print each region's answers as curl would get them."""
    for region, services in found.items():
        line = ", ".join(f"{service} {' + '.join(v)}" for service, v in services.items())
        demo.say(f"  curl -H 'Host: <service>' {routers[region]}  →  {line}   [dim]({region})[/]")
