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


def essay_parts(app, write_post, body: str = "Intro.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nAfter."):
    write_post("essay.md", title="An Essay", date="2022-01-01", body=body)
    with app.app_context():
        return render_parts(current_posts().published[0])


def test_masthead_links_the_site_and_the_author_is_under_the_title(app, write_post):
    from bs4 import BeautifulSoup

    _text, html = essay_parts(app, write_post)
    soup = BeautifulSoup(html, "html.parser")
    masthead = soup.select_one(".masthead a")
    assert masthead.get_text() == "A Weekly Essay"
    assert masthead["href"] == "https://essays.example.org/"
    title = soup.find("h1")
    assert title.find_previous("p", class_="masthead") is not None
    assert title.find_next_sibling("p").get_text() == "By The Author"


def test_tables_are_spaced_images_scaled_and_the_leave_link_stands_out(app, write_post):
    from bs4 import BeautifulSoup

    _text, html = essay_parts(
        app, write_post, body="Intro.\n\n![A](/a.png)\n\n| a |\n|---|\n| 1 |\n"
    )
    soup = BeautifulSoup(html, "html.parser")
    assert "margin: 1.25em 0 1.5em" in soup.find("table")["style"]
    assert "max-width: 100%" in soup.find("img")["style"]
    footer = soup.select_one(".footer")
    leave = footer.find("p")  # the first line of the footer
    assert "Unsubscribe" in leave.get_text() and "font-weight: bold" in leave.find("a")["style"]


def test_dark_mode_rules_stay_in_a_style_block(app, write_post):
    _text, html = essay_parts(app, write_post)
    assert "@media (prefers-color-scheme: dark)" in html
    assert '<meta name="color-scheme" content="light dark">' in html


def test_text_part_has_the_masthead_the_author_and_the_leave_link_first_in_the_footer(
    app, write_post
):
    text, _html = essay_parts(app, write_post)
    lines = text.splitlines()
    assert lines[0] == "A Weekly Essay · https://essays.example.org/"
    assert "By The Author" in lines
    footer = text.split("\n-- \n", 1)[1]
    assert footer.startswith("Unsubscribe (one click, no questions asked):")


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed; the layout is unchecked.")
def test_a_wide_image_is_scaled_to_the_column_at_375_px(app, write_post):
    sync_api = pytest.importorskip("playwright.sync_api")
    image = (
        "data:image/svg+xml,"
        + "%3Csvg xmlns='http://www.w3.org/2000/svg' width='1200' height='600'/%3E"
    )
    _text, html = essay_parts(app, write_post, body=f"Intro.\n\n![Wide]({image})\n")
    with ThreadPoolExecutor(1) as pool:
        widths = pool.submit(image_widths, sync_api, html).result()
    page_width, image_width = widths
    assert page_width <= 375 and image_width <= 375


def image_widths(sync_api, html: str) -> tuple[int, float]:
    """The page's and the first image's width at 375 px."""
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page(viewport={"width": 375, "height": 700})
            page.set_content(html)
            return page.evaluate(
                "[document.documentElement.scrollWidth,"
                " document.querySelector('img').getBoundingClientRect().width]"
            )
        finally:
            browser.close()
