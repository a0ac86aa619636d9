"""Story: the author works from the desk in Chromium. Signs in through the link from the
mailbox, reads the overview, previews an essay at 375 px, sends a test (it arrives), sends to
20 readers and watches the progress reach 20 (each gets one message), reads the history.
Every desk page: axe-core WCAG 2.1 AA with no violation, light and dark; vnu: no error."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from playwright.sync_api import Page

from .checkers import axe_violations, validate_html, vnu_unavailable
from .live import REPO_ROOT, LiveSite, wait_until
from .mailbox import Mailbox, recipients, text_part

AUTHOR = "author@example.org"  # AUTHOR_EMAIL's default, so the only address in ADMIN_EMAILS
READERS = [f"desk-reader-{n:02d}@example.org" for n in range(20)]
BODY = """
An essay sent from the desk, not from a terminal.

It has [a link to the archive](/archive/) and a second paragraph.
"""


class DeskVisit:
    """The pages the story went through, kept for the HTML checker; axe runs on each."""

    def __init__(self, tab: Page) -> None:
        self.tab = tab
        self.served: dict[str, bytes] = {}
        self.violations: list[str] = []

    def check(self, name: str) -> None:
        """axe-core in light and dark on the page as shown; keep its bytes as served."""
        for scheme in ("light", "dark"):
            self.tab.emulate_media(color_scheme=scheme)
            self.violations += [f"{name} ({scheme}): {line}" for line in axe_violations(self.tab)]
        self.tab.emulate_media(color_scheme="light")
        self.served[name] = self.tab.context.request.get(self.tab.url).body()


def sign_in_link(mailbox: Mailbox) -> str:
    message = mailbox.wait_for_one_to(AUTHOR, "Sign in to the desk")
    return re.search(r"http://\S+/desk/sign-in/\S+", text_part(message)).group(0)


def test_the_author_sends_an_essay_from_the_desk(
    site: LiveSite, mailbox: Mailbox, open_page, screenshot, tmp_path
):
    site.add_subscribers(*READERS)
    essay = site.publish("desk-story", "Sent From the Desk", BODY)
    tab = open_page()
    visit = DeskVisit(tab)

    tab.goto(f"{site.url}/desk/essays")  # not signed in: the sign-in page
    assert tab.locator("h1").inner_text() == "Sign in to the desk"
    visit.check("sign-in")
    tab.fill("#email", AUTHOR)
    tab.click("text=Mail me a sign-in link")
    assert tab.locator("h1").inner_text() == "Check your inbox"
    visit.check("check-inbox")
    tab.goto(sign_in_link(mailbox))
    visit.check("sign-in-link")
    tab.click("main button:has-text('Sign in')")
    assert tab.locator("h1").inner_text() == "Overview"
    assert "20 active" in " ".join(tab.locator(".desk-counts").inner_text().split())
    visit.check("overview")
    screenshot(tab, "overview")

    tab.click("nav >> text=Essays")
    visit.check("essays")
    tab.click(f"text={essay.title}")
    wait_until(lambda: tab.frame_locator("iframe.phone").locator("body").inner_text(),
               what="the preview to load")  # fmt: skip
    phone = tab.locator("iframe.phone").bounding_box()
    assert phone is not None and round(phone["width"]) in (375, 377)  # 375 px plus its border
    assert "sent from the desk" in tab.frame_locator("iframe.phone").locator("body").inner_text()
    visit.check("essay")

    tab.click(f"text=Send a test to {AUTHOR}")
    test_mail = mailbox.wait_for_one_to(AUTHOR, f"[TEST] {essay.title}")
    assert recipients(test_mail) == {AUTHOR}

    tab.click("text=Send to all 20 readers")
    assert tab.locator("h1").inner_text() == f"Send “{essay.title}” to all 20 readers?"
    visit.check("send-confirm")
    tab.click("main button:has-text('to 20 readers')")
    tab.wait_for_selector("text=Sent 20, failed 0, uncertain 0", timeout=90_000)  # refreshes
    visit.check("essay-sent")
    screenshot(tab, "essay-sent")
    sent = mailbox.wait_for(
        "the essay for all 20 readers",
        lambda got: len([m for m in got if str(m["Subject"]) == essay.title]) >= 20,
    )
    received = Counter(a for m in sent if str(m["Subject"]) == essay.title for a in recipients(m))
    assert received == Counter(READERS), "every reader gets the essay exactly once"

    tab.click("text=Send history")
    cells = tab.locator("main tbody tr").first.locator("td").all_inner_texts()
    assert cells[0] == essay.title and cells[3:] == ["20", "0", "0", "0"]
    visit.check("history")

    more = {
        "readers": "/desk/readers",
        "forget": f"/desk/readers/forget?email={READERS[0]}",
        "welcome": "/desk/welcome",
        "passkeys": "/desk/passkeys",
    }
    for name, path in more.items():
        tab.goto(site.url + path)
        visit.check(name)
    save_readme_screenshots(tab, site, essay.slug)

    assert visit.violations == []
    if (reason := vnu_unavailable()) is not None:
        pytest.skip(f"axe passed; the HTML check cannot run: {reason}")
    errors = validate_html(visit.served, tmp_path / "vnu")
    assert {name: lines for name, lines in errors.items() if lines} == {}


def save_readme_screenshots(tab: Page, site: LiveSite, slug: str) -> None:
    """The two small pictures of the README's "The desk", refreshed by each run."""
    tab.set_viewport_size({"width": 1024, "height": 700})
    for name, path in (("desk-overview", "/desk/"), ("desk-essay", f"/desk/essays/{slug}")):
        tab.goto(site.url + path)
        tab.screenshot(path=REPO_ROOT / "test-artifacts" / f"{name}.png")
