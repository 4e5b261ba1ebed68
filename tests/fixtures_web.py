"""Fixtures for the web page tests: Debian's Chromium driven by Playwright's sync API.

The page is served by the real app from ``api_live`` (tests/fixtures_api.py: synthetic data
in this process's ``chdb://memory`` engine, uvicorn in a thread), so every click goes through
the real URL API and its disclosure control. Playwright never downloads a browser: it launches
``/usr/bin/chromium`` (``apt-get install chromium``); scripts/test.sh installs it, and without it these tests fail.
Screenshots go to ``artifacts/screenshots/`` (gitignored) for people to look at.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

CHROMIUM = os.environ.get("CROSSTRACK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is not installed: scripts/test.sh installs Debian's chromium")
    # Never let Playwright fetch a browser of its own.
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()
        pw.stop()


@pytest.fixture
def new_page(chromium_browser: Any) -> Iterator[Callable[..., Any]]:
    """Open pages in fresh browser contexts; page errors fail the test (console errors are kept)."""
    contexts: list[Any] = []
    errors: list[str] = []

    def _open(**context_options: Any) -> Any:
        options = {"viewport": {"width": 1280, "height": 900}, "accept_downloads": True, **context_options}
        ctx = chromium_browser.new_context(**options)
        ctx.set_default_timeout(15_000)
        contexts.append(ctx)
        page = ctx.new_page()
        page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
        return page

    yield _open
    for ctx in contexts:
        ctx.close()
    assert not errors, errors


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[..., Path]:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def _shot(page: Any, name: str, *, full_page: bool = True) -> Path:
        path = SCREENSHOTS / f"{request.node.name}-{name}.png"
        if full_page:  # from the top, so the sticky URL bar sits where it belongs
            page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return _shot
