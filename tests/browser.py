"""Headless Chromium for the status page's browser tests: Debian's chromium driven by Playwright, the sizes a
customer reads the page at, and what a test reads back from one page (its text, its markup, how wide it scrolls).
conftest.py's `browser` and `browser_if_any` fixtures launch it; tests open pages with `opened`."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, ViewportSize, async_playwright

CHROMIUM = shutil.which("chromium")  # Debian's
BROWSER_ENV = "YINGJI_TEST_BROWSER"
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
# Without the background-networking flags Chromium keeps dialling Google's hosts, which this network refuses.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def missing() -> str | None:
    """Why there is no browser to test with (None: there is one); with YINGJI_TEST_BROWSER=required a missing one
    fails the test instead (CI installs it, so a missing one there is a broken run, not a skip)."""
    if CHROMIUM is not None:
        return None
    if os.environ.get(BROWSER_ENV) == "required":
        pytest.fail(f"{BROWSER_ENV}=required but there is no chromium on PATH (apt install chromium)")
    return "no chromium on PATH"


@asynccontextmanager
async def launched() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, closed afterwards."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield browser
        finally:
            await browser.close()


@asynccontextmanager
async def opened(browser: Browser, url: str, size: ViewportSize, *, screenshot: str | None = None,
                 scripts: bool = True) -> AsyncIterator[Page]:
    """`url` loaded (answered 200) in a fresh context at `size`; saved as tests/screenshots/<screenshot>.png."""
    context = await browser.new_context(viewport=size, java_script_enabled=scripts)
    try:
        page = await context.new_page()
        response = await page.goto(url)
        assert response is not None and response.status == 200, url
        if screenshot:
            SCREENSHOTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(SCREENSHOTS / f"{screenshot}.png"), full_page=True)
        yield page
    finally:
        await context.close()


async def sideways(page: Page) -> tuple[int, int]:
    """How wide the page scrolls and how wide the window is: a page that fits has the first no larger."""
    scroll, client = await page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    return int(scroll), int(client)
