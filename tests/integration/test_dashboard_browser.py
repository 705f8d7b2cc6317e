"""The dashboard in real headless Chromium (Debian's ``chromium``, driven by Playwright).

Nothing is downloaded: Playwright launches ``/usr/bin/chromium``. Each test
saves screenshots under its tmp dir and prints their paths. With
``FERRYMAN_README_SCREENSHOT=1`` the canary test also writes the README's
picture of the release page (``docs/img/dashboard-release.png``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from ferryman.identity.config import demo_token, ensure_demo_config, load_directory
from ferryman.plan.compile import compile_plan
from ferryman.server.screenshot import CHROMIUM, launch, release_path
from ferryman.spec.load import load_spec
from ferryman.temporal.activities.analysis import MetricSources
from ferryman.temporal.client.releases import start_release
from ferryman.temporal.worker.workers import local_providers
from ferryman.temporal.workflows.release import ReleaseWorkflow
from ferryman.testing import AgentProcess
from ferryman.testing.workers import serving

from .canary_helpers import SHOP, load
from .dashboard_helpers import dashboard
from .test_dashboard_api import GATE

playwright_api = pytest.importorskip("playwright.async_api")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(300),
    pytest.mark.skipif(
        not Path(CHROMIUM).exists() and os.environ.get("CI") != "true",
        reason="Debian's chromium is not installed (CI installs it)",
    ),
]
README_SHOT = Path(__file__).resolve().parents[2] / "docs" / "img" / "dashboard-release.png"
WAIT_MS = 120_000


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with playwright_api.async_playwright() as playwright:
        chromium = await launch(playwright)
        yield chromium
        await chromium.close()


async def shot(page: Any, tmp_path: Path, name: str) -> Path:
    path = tmp_path / "screenshots" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


async def log_in(page: Any, base: str, token: str) -> None:
    await page.goto(f"{base}/login")
    await page.fill("input[name=token]", token)
    await page.click("#login button[type=submit]")
    await page.wait_for_selector("#whoami")


async def wait_for(page: Any, tmp_path: Path, condition: str) -> None:
    """Wait for a JavaScript condition; on a timeout, save the page as it was and fail."""
    try:
        await page.wait_for_function(condition, timeout=WAIT_MS)
    except playwright_api.TimeoutError:
        await shot(page, tmp_path, "timed-out")
        pytest.fail(f"not reached in time: {condition}\n{await page.inner_text('main')}")


async def updates(page: Any) -> int:
    return int(await page.evaluate("Number(document.getElementById('live').dataset.updates||0)"))


async def test_log_in_and_out(
    dev_client: Client, ferryman_home: Path, browser: Any, tmp_path: Path
) -> None:
    config = ensure_demo_config().config
    async with dashboard(dev_client, config, ferryman_home / "server") as base:
        page = await browser.new_page()
        await page.goto(f"{base}/releases")
        assert page.url == f"{base}/login?next=/releases", "reading needs a login"
        await page.fill("input[name=token]", "fm_not-a-token")
        await page.click("#login button[type=submit]")
        assert await page.inner_text("#login-error") == "unknown token"
        await shot(page, tmp_path, "login-refused")
        await page.fill("input[name=token]", demo_token("bob", config))
        await page.click("#login button[type=submit]")
        await page.wait_for_selector("#whoami")
        assert page.url == f"{base}/releases" and await page.inner_text("#whoami") == "bob"
        cookie = next(c for c in await page.context.cookies() if c["name"] == "ferryman_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        await shot(page, tmp_path, "logged-in")
        await page.click("header button.link")
        await page.wait_for_selector("#login")
        await page.goto(f"{base}/gates")
        assert page.url.startswith(f"{base}/login"), "logged out"


@pytest.fixture
def gated_spec(hello_spec: Path) -> Path:
    hello_spec.write_text(hello_spec.read_text() + GATE)
    return hello_spec


async def test_watch_a_release_live_and_approve_its_gate_with_a_click(
    dev_client: Client,
    agent: AgentProcess,
    gated_spec: Path,
    ferryman_home: Path,
    browser: Any,
    tmp_path: Path,
) -> None:
    hello_spec = gated_spec
    config = ensure_demo_config().config
    directory = load_directory(config)
    plan = compile_plan(
        load_spec(hello_spec, directory),
        hello_spec,
        "dev",
        directory=directory,
        requested_by="alice",
    )
    async with (
        serving(dev_client, local_providers(agent.url), ["local-1"]) as queue,
        dashboard(dev_client, config, ferryman_home / "server") as base,
    ):
        page = await browser.new_page(viewport={"width": 1300, "height": 900})
        await log_in(page, base, demo_token("demo-approver", config))
        handle = await start_release(dev_client, plan, task_queue=queue)
        url = base + release_path(handle.id)
        await page.goto(url)
        await page.wait_for_function(
            "() => document.getElementById('phase')?.textContent === 'awaiting-approval'",
            timeout=WAIT_MS,
        )
        assert await updates(page) >= 1, "the phase came over server-sent events"
        assert await page.locator("#dag g.node[data-node=hello]").get_attribute("data-state") in (
            "succeeded",
            "cached",
        )
        assert "go-live" in await page.inner_text("#pending-gates")
        await shot(page, tmp_path, "release-at-gate")

        await page.click("nav >> text=Gates")
        card = page.locator("article.gate", has_text=handle.id)
        await card.locator("input[name='input.ticket']").fill("CHG-2024")
        await card.locator("input[name=comment]").fill("looks right")
        await shot(page, tmp_path, "gates-inbox")
        await card.locator("button.approve").click()
        await page.wait_for_url(url)
        assert "approved by demo-approver" in await page.inner_text("#flash")
        before = await updates(page)
        await page.wait_for_function(
            "() => document.getElementById('status')?.textContent === 'completed'",
            timeout=WAIT_MS,
        )
        assert page.url == url and await updates(page) > before, "no reload: it came live"
        assert (
            await page.locator("#world .region[data-region=local-1]").get_attribute("data-state")
            == "live"
        )
        assert await page.locator("#audit tr[data-kind=approved]").count() == 1
        await page.wait_for_function(
            "() => document.getElementById('live-state').textContent === 'finished'"
        )
        await shot(page, tmp_path, "release-done")
        result = await dev_client.get_workflow_handle_for(ReleaseWorkflow.run, handle.id).result()
        assert result.status == "succeeded"


CANARY_SPEC = """\
system: shop-canary
repos:
  checkout:
    source: ./checkout
    build:
      steps:
        - name: package
          run: mkdir -p dist/config && cp app.py shoplib.py dist/ && cp config/*.json dist/config/
    outputs: ["dist/**"]
services:
  checkout:
    artifact: checkout
    run: exec python3 dist/app.py
    health: {path: /healthz, timeout-seconds: 20}
    strategy:
      canary:
        scale-down-delay: 1s
        progress-deadline: 1m
        steps:
          - set-weight: 50
          - analysis: {templates: [error-rate]}
          - pause: {}
analysis:
  templates:
    error-rate:
      metrics:
        - name: errors
          source: local
          query: {kind: error_rate}
          judge: {sequential: {alpha: 0.01, margin: 0.1}}
      interval-seconds: 1
      count: 6
      no-data: pause
environments:
  dev:
    regions:
      local-1: {zones: [a, b]}
"""


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def canary_spec(workdir: Path) -> Path:
    repo = workdir / "checkout"
    (repo / "config").mkdir(parents=True)
    shutil.copy(SHOP / "checkout" / "app.py", repo / "app.py")
    shutil.copy(SHOP / "lib" / "shoplib.py", repo / "shoplib.py")
    (repo / "config" / "behaviour.json").write_text('{"error_rate": 0.0, "latency_ms": 0}')
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "checkout"]):
        git(repo, *args)
    spec = workdir / "ferryman.yaml"
    spec.write_text(CANARY_SPEC)
    return spec


async def test_the_canary_chart_renders_its_points_and_promote_goes_on(
    dev_client: Client,
    agent: AgentProcess,
    ferryman_home: Path,
    browser: Any,
    tmp_path: Path,
) -> None:
    spec = canary_spec(tmp_path / "work")
    config = ensure_demo_config().config
    loaded = load_spec(spec)
    metrics = MetricSources(agent.url)
    async with (
        serving(dev_client, local_providers(agent.url), ["local-1"], metrics=metrics) as queue,
        dashboard(dev_client, config, ferryman_home / "server", "http://127.0.0.1:8233") as base,
    ):
        first = await start_release(dev_client, compile_plan(loaded, spec, "dev", "v1"), queue)
        stable = await first.result()
        assert stable.status == "succeeded", stable.error
        page = await browser.new_page(viewport={"width": 1400, "height": 1000})
        await log_in(page, base, demo_token("alice", config))
        async with load(stable.router_urls["local-1"], rps=80):
            handle = await start_release(dev_client, compile_plan(loaded, spec, "dev", "v2"), queue)
            await page.goto(base + release_path(handle.id))
            await wait_for(
                page,
                tmp_path,
                "() => document.querySelectorAll('figure.chart circle.point.canary').length >= 1"
                " && document.querySelector('#world .region .step')?.textContent"
                "    .includes('promote')",
            )
            chart = page.locator("figure.chart[data-region=local-1]").first
            assert await chart.locator("circle.point.baseline").count() >= 1
            assert await chart.locator("path.line.canary").get_attribute("d")
            assert await page.locator("#judgements tbody tr").count() >= 2
            split = await page.inner_text("#world .region[data-region=local-1]")
            assert "v2 50%" in split and "v1.baseline 50%" in split, split
            assert (await page.locator("#temporal-link").get_attribute("href") or "").startswith(
                "http://127.0.0.1:8233/namespaces/default/workflows/release%2Fshop-canary"
            )
            await shot(page, tmp_path, "canary-held")
            if os.environ.get("FERRYMAN_README_SCREENSHOT") == "1":
                README_SHOT.parent.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(README_SHOT), full_page=True)
                print(f"screenshot: {README_SHOT}")

            await page.click("details.action[data-action=promote] summary")
            await page.fill("details.action[data-action=promote] input[name=reason]", "canary ok")
            await page.click("details.action[data-action=promote] button.confirm")
            await page.wait_for_selector("#flash")
            assert "promote:" in await page.inner_text("#flash")
            await page.wait_for_function(
                "() => document.getElementById('status')?.textContent === 'completed'",
                timeout=WAIT_MS,
            )
        result = await handle.result()
        assert result.status == "succeeded"
        await shot(page, tmp_path, "canary-promoted")
        decisions = await page.inner_text("#judgements")
        assert "promoted by alice" in decisions
