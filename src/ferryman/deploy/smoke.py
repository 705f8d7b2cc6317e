"""Smoke checks: HTTP requests through a region's router that must reach one version."""

from __future__ import annotations

from typing import Protocol

import httpx

from ferryman.deploy.bluegreen import PreviewMatch, SmokeCheck

ATTEMPTS_PER_CHECK = 3


class SmokeTarget(Protocol):
    """What a smoke run needs to know."""

    @property
    def service(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def checks(self) -> tuple[SmokeCheck, ...]: ...

    @property
    def match(self) -> PreviewMatch | None: ...


def _request_parts(target: SmokeTarget) -> tuple[dict[str, str], dict[str, str]]:
    headers = {"Host": target.service}
    cookies: dict[str, str] = {}
    match = target.match
    if match is not None and match.header:
        headers[match.header] = match.value
    if match is not None and match.cookie:
        cookies[match.cookie] = match.value
    return headers, cookies


def judge(check: SmokeCheck, version: str, response: httpx.Response) -> str:
    """Why ``response`` fails ``check`` for ``version``, or ``""`` when it passes."""
    served = response.headers.get("X-Ferryman-Version", "?")
    where = f"GET {check.path}"
    if served != version:
        return f"{where} was served by version {served}, not {version}"
    if response.status_code != check.status:
        return f"{where} answered {response.status_code}, expected {check.status}"
    if check.contains is not None and check.contains not in response.text:
        return f"{where} did not contain {check.contains!r}"
    return ""


async def run_smoke_checks(router_url: str, target: SmokeTarget) -> tuple[str, int]:
    """Send every check a few times; returns (first problem or ``""``, requests sent)."""
    headers, cookies = _request_parts(target)
    sent = 0
    async with httpx.AsyncClient(
        base_url=router_url, headers=headers, cookies=cookies, timeout=10
    ) as http:
        for check in target.checks:
            for _ in range(ATTEMPTS_PER_CHECK):
                try:
                    response = await http.get(check.path)
                except httpx.HTTPError as exc:
                    return f"GET {check.path} failed: {exc}", sent
                sent += 1
                problem = judge(check, target.version, response)
                if problem:
                    return problem, sent
    return "", sent
