"""A real headless Chromium for the report tests (Debian's chromium; `.ci/run` installs it),
and pages that record every console error, page error, dialog and request."""

from __future__ import annotations

import pytest

from sim.common.errors import MissingToolError
from sim.report import find_chromium


def chromium_or_fail(what: str) -> str:
    """The Chromium binary, or a failing test that says how to get one."""
    try:
        return find_chromium()
    except MissingToolError as exc:
        pytest.fail(f"{what} need Chromium: {exc}")


def launch(chromium: str):
    """Yield a launched browser (for a module-scoped fixture), closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium)
        yield b
        b.close()


def open_page(browser, url: str | None = None, html: str | None = None):
    """A page with every console error, page error, dialog and request recorded."""
    page = browser.new_page(viewport={"width": 1000, "height": 1300})
    seen = {"errors": [], "requests": [], "dialogs": []}
    page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("request", lambda r: seen["requests"].append(r.url))
    page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
    if url:
        page.goto(url, wait_until="load")
    else:
        page.set_content(html, wait_until="load")
    return page, seen
