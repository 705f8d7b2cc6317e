"""``python -m ferryman.server.screenshot``: a PNG of a dashboard page, taken by headless Chromium.

Logs in with a token, opens a page (a release by default), waits until its
live part has been updated over SSE at least once, and saves a full-page PNG::

    python -m ferryman.server.screenshot http://127.0.0.1:7490 \\
        --release release/shop/prod/1 --token "$TOKEN" --out docs/img/dashboard-release.png

Chromium comes from the system (Debian's ``chromium``), driven by Playwright's
Python package; nothing is downloaded. Used by the README's screenshot test
and by the browser tests.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

CHROMIUM = os.environ.get("FERRYMAN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def launch(playwright: Any) -> Any:
    """The system's Chromium, headless, through Playwright (no browser download)."""
    return playwright.chromium.launch(
        executable_path=CHROMIUM, args=list(CHROMIUM_ARGS), headless=True
    )


def log_in(page: Any, base_url: str, token: str) -> None:
    """Log ``page`` in with ``token`` through the login form."""
    page.goto(f"{base_url}/login")
    page.fill("input[name=token]", token)
    page.click("#login button[type=submit]")
    page.wait_for_selector("#whoami")


def release_path(release_id: str) -> str:
    """The dashboard path of a release."""
    return "/releases/" + quote(release_id, safe="/")


def capture(base_url: str, path: str, token: str, out: Path, width: int = 1400) -> Path:
    """Save a full-page screenshot of ``path`` once its live part has updated."""
    from playwright.sync_api import sync_playwright

    out.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            log_in(page, base_url, token)
            page.goto(base_url + path)
            page.wait_for_function(
                "() => { const l = document.getElementById('live');"
                " return !l || !l.dataset.live || Number(l.dataset.updates || 0) > 0"
                " || document.body.classList.contains('finished'); }",
                timeout=30_000,
            )
            page.screenshot(path=str(out), full_page=True)
        finally:
            browser.close()
    return out


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m ferryman.server.screenshot")
    parser.add_argument("base_url", help="The dashboard, e.g. http://127.0.0.1:7490")
    parser.add_argument("--release", help="A release id (default: the releases list).")
    parser.add_argument("--path", help="Any other page path, e.g. /gates.")
    parser.add_argument("--token", default=os.environ.get("FERRYMAN_TOKEN", ""))
    parser.add_argument("--out", type=Path, default=Path("dashboard.png"))
    parser.add_argument("--width", type=int, default=1400)
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("pass --token or set FERRYMAN_TOKEN")
    path = args.path or (release_path(args.release) if args.release else "/releases")
    print(capture(args.base_url.rstrip("/"), path, args.token, args.out, args.width))


if __name__ == "__main__":
    main()
