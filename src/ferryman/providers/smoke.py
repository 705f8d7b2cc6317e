"""Smoke checks over HTTP: requests through a region's router that must reach one version."""

from __future__ import annotations

import httpx

from ferryman.deploy.smoke import ATTEMPTS_PER_CHECK, judge
from ferryman.deploy.steps import PreviewMatch, SmokeCheck


def _request_parts(
    service: str, match: PreviewMatch | None
) -> tuple[dict[str, str], dict[str, str]]:
    headers = {"Host": service}
    cookies: dict[str, str] = {}
    if match is not None and match.header:
        headers[match.header] = match.value
    if match is not None and match.cookie:
        cookies[match.cookie] = match.value
    return headers, cookies


async def run_smoke_checks(
    router_url: str,
    service: str,
    version: str,
    checks: tuple[SmokeCheck, ...],
    match: PreviewMatch | None = None,
) -> tuple[str, int]:
    """Send every check a few times through the router.

    Args:
        router_url: The region's router.
        service: The service (sent as the ``Host`` header).
        version: The version every answer must come from.
        checks: What to request and expect.
        match: Makes the requests testers of a previewed version.

    Returns:
        The first problem (``""`` when none) and how many requests were sent.
    """
    headers, cookies = _request_parts(service, match)
    sent = 0
    async with httpx.AsyncClient(
        base_url=router_url, headers=headers, cookies=cookies, timeout=10
    ) as http:
        for check in checks:
            for _ in range(ATTEMPTS_PER_CHECK):
                try:
                    response = await http.get(check.path)
                except httpx.HTTPError as exc:
                    return f"GET {check.path} failed: {exc}", sent
                sent += 1
                served = response.headers.get("X-Ferryman-Version", "?")
                problem = judge(check, version, served, response.status_code, response.text)
                if problem:
                    return problem, sent
    return "", sent
