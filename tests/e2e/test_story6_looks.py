"""Story 6: the site and its email look like a mature publication at a phone's and a desktop's
width, in light and dark.

Each test saves screenshots in test-artifacts/<test>/ to be looked at, and holds what a
measurement can: the subscribe button beside the field at the same height, no line of a page
wider than the phone, one rule under a list, footnote markers that keep their line's height,
a favicon on every page, an essay page under its weight budget.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from .live import LiveSite

WIDTHS = {"phone": 375, "desktop": 1280}
SCHEMES = ("light", "dark")
ESSAY = "/posts/week-5-numbers-that-matter/"
PAGE_WEIGHT_BUDGET = 50 * 1024  # an essay page with its stylesheet and favicon, uncompressed


def tab(open_page, width: int, scheme: str, height: int = 800) -> Page:
    """A tab of `width` CSS pixels in the colour scheme, JavaScript off (as the site needs)."""
    page = open_page(color_scheme=scheme, java_script_enabled=False)
    page.set_viewport_size({"width": width, "height": height})
    return page


@pytest.mark.parametrize("path", ["/", ESSAY, "/tags/", "/archive/"])
def test_pages_at_phone_and_desktop_width_in_both_schemes(
    path: str, site: LiveSite, open_page, screenshot
):
    """Screenshots to look at; no page scrolls sideways at either width."""
    for (label, width), scheme in ((w, s) for w in WIDTHS.items() for s in SCHEMES):
        page = tab(open_page, width, scheme)
        page.goto(site.url + path)
        screenshot(page, f"{label}-{scheme}")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} at {width} px is {overflow} px wider than the window"


@pytest.mark.parametrize("width", [320, 375, 768, 1280])
def test_subscribe_button_is_as_tall_as_the_field_and_aligned(width, site, open_page, screenshot):
    """Same height, tops aligned when side by side; at 320 px both fit inside the box."""
    page = tab(open_page, width, "light")
    page.goto(site.url + "/")
    field = page.locator("main .subscribe-form input[type=email]").first.bounding_box()
    button = page.locator("main .subscribe-form button").first.bounding_box()
    form = page.locator("main .subscribe-form").first.bounding_box()
    screenshot(page, f"form-{width}")
    assert field and button and form
    assert abs(field["height"] - button["height"]) <= 1, (field, button)
    if abs(field["y"] - button["y"]) > 1:  # wrapped: the button goes under the field
        assert button["y"] >= field["y"] + field["height"], (field, button)
    for box in (field, button):
        assert box["x"] >= form["x"] and box["x"] + box["width"] <= form["x"] + form["width"] + 1


def test_a_list_of_essays_ends_with_one_rule(site: LiveSite, open_page):
    """The last essay of a list has no bottom border of its own above the footer's."""
    page = tab(open_page, 1280, "light")
    page.goto(site.url + "/")
    last = page.locator("main .post-list > li").last
    assert last.evaluate("e => getComputedStyle(e).borderBottomStyle") == "none"


def test_footnote_markers_keep_their_line_height(site: LiveSite, open_page):
    """A paragraph with a footnote marker has lines of the same height as one without."""
    page = tab(open_page, 375, "light")
    page.goto(site.url + ESSAY)
    heights = page.evaluate(
        """() => {
          const body = document.querySelector('.essay-body');
          const marker = body.querySelector('sup');
          const height = html => {
            const p = document.createElement('p');
            p.innerHTML = html;
            body.appendChild(p);
            const h = p.getBoundingClientRect().height;
            p.remove();
            return h;
          };
          return [height('x'), height('x' + marker.outerHTML)];
        }"""
    )
    assert heights[1] <= heights[0] + 0.5, heights


def test_previous_and_next_links_are_comfortable_on_a_phone(site: LiveSite, open_page):
    """Each link is a tap target at least 44 px tall and takes a full line at 375 px."""
    page = tab(open_page, 375, "light")
    page.goto(site.url + "/posts/week-5-numbers-that-matter/")
    for link in page.locator(".post-nav a").all():
        box = link.bounding_box()
        assert box and box["height"] >= 44, box
        assert box["width"] >= 300, box


def test_every_page_has_a_favicon_and_an_essay_is_under_its_weight_budget(site: LiveSite):
    """The favicon link answers 200 (no 404 on a page view); an essay and what it loads
    weigh under 50 KB, with no web font."""
    html = site.get(ESSAY).soup()
    icon = html.select_one("link[rel=icon]")
    assert icon is not None and icon["href"].endswith(".svg")
    favicon = site.get(icon["href"])
    assert favicon.status == 200 and len(favicon.body) < 1024
    stylesheet = site.get(html.select_one("link[rel=stylesheet]")["href"])
    assert b"@font-face" not in stylesheet.body and b"url(" not in stylesheet.body
    weight = len(site.get(ESSAY).body) + len(stylesheet.body) + len(favicon.body)
    assert weight < PAGE_WEIGHT_BUDGET, weight
    assert site.get("/favicon.ico").status in (200, 301, 308)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_the_email_at_phone_and_mail_client_width(scheme, site: LiveSite, open_page, screenshot):
    """The essay's email as `flask preview` writes it, at 375 and 700 px: to look at, and
    no image or table wider than the column."""
    out = site.root / "preview"
    site.flask("preview", "week-5-numbers-that-matter", "--output", str(out))
    for width in (375, 700):
        page = tab(open_page, width, scheme)
        page.goto((out / "week-5-numbers-that-matter.html").as_uri())
        screenshot(page, f"email-{width}-{scheme}")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the email at {width} px is {overflow} px too wide"
