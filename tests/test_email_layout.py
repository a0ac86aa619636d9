"""The essay email on a 375 px phone: code scrolls inside its box, the page never widens."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest

from newsletter.content.library import current_posts
from newsletter.mail.essay import render_parts

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LONG_CODE = "x = call_a_function_with_a_long_name(argument_one, argument_two, argument_three)"


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed; the layout is unchecked.")
def test_code_scrolls_inside_its_box_at_375_px(app, write_post):
    sync_api = pytest.importorskip("playwright.sync_api")
    body = f"Intro.\n\n```python\n{LONG_CODE}\n```\n\n| a | b |\n|---|---|\n| {'w ' * 60} | c |\n"
    write_post("code.md", title="Code", date="2022-01-01", body=body)
    with app.app_context():
        _text, html = render_parts(current_posts().published[0])
    # In a thread of its own: Playwright's sync API refuses a thread where an asyncio loop
    # runs, and earlier tests (the SMTP server) may leave one in the main thread.
    with ThreadPoolExecutor(1) as pool:
        page_width, pre = pool.submit(measure, sync_api, html).result()
    assert page_width <= 375  # nothing clipped off the right of the screen
    scroll_width, client_width, overflow = pre
    assert overflow == "auto" and scroll_width > client_width  # the code scrolls in its box


def measure(sync_api, html: str) -> tuple[int, list]:
    """The page's width and the first code box's widths and overflow, at 375 px."""
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page(viewport={"width": 375, "height": 700})
            page.set_content(html)
            page_width = page.evaluate("document.documentElement.scrollWidth")
            pre = page.evaluate(
                "(() => { const p = document.querySelector('pre');"
                " return [p.scrollWidth, p.clientWidth, getComputedStyle(p).overflowX]; })()"
            )
        finally:
            browser.close()
    return page_width, pre
