"""Story 3: one reader leaves with their mailbox provider's one-click button (RFC 8058), another
through the footer link in the browser; the next send skips them both."""

from __future__ import annotations

import re
from collections import Counter

from playwright.sync_api import expect

from .httpclient import HttpClient
from .mailbox import html_part, link, list_unsubscribe_url, recipients

BODY = """
A short essay, sent so that readers have something to leave from.

The last paragraph.
"""
ONE_CLICK = "s3-one-click@example.org"
FOOTER = "s3-footer@example.org"
STAYS = "s3-stays@example.org"


def test_readers_leave_in_one_click_or_by_the_footer_link(site, mailbox, open_page, screenshot):
    site.add_subscribers(ONE_CLICK, FOOTER, STAYS)
    first = site.publish("story-3-before", "Story 3: Before Anyone Left", BODY)
    site.flask("send", "--new", "--yes")

    # As Gmail or Yahoo do it: one POST with this body, no cookie, no CSRF token, no redirect.
    message = mailbox.wait_for_one_to(ONE_CLICK, first.title)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    answer = HttpClient().request(list_unsubscribe_url(message), body=b"List-Unsubscribe=One-Click")
    assert answer.status == 200, f"The one-click POST got {answer.status}:\n{answer.text[:500]}"

    footer_url = link(
        html_part(mailbox.wait_for_one_to(FOOTER, first.title)), "unsubscribe", "/unsubscribe/"
    )
    tab = open_page()
    tab.goto(footer_url)
    screenshot(tab, "unsubscribe-asks")
    button = tab.get_by_role("button", name=re.compile("unsubscribe", re.IGNORECASE))
    expect(button).to_be_visible()
    assert FOOTER in site.subscribers("active"), "Opening the link alone changes nothing."
    with tab.expect_navigation():
        button.click()
    screenshot(tab, "unsubscribed")
    expect(tab.locator("h1")).to_contain_text(re.compile("unsubscribed", re.IGNORECASE))

    active = site.subscribers("active")
    assert STAYS in active and not {ONE_CLICK, FOOTER} & active
    second = site.publish("story-3-after", "Story 3: After Two Readers Left", BODY)
    site.flask("send", "--new", "--yes")
    mailbox.wait_for(
        f"'{second.title}' for every active reader",
        lambda got: len([m for m in got if second.title in str(m["Subject"])]) >= len(active),
    )
    received = Counter(a for m in mailbox.about(second.title) for a in recipients(m))
    assert received == Counter(active), "The next send skips both readers who left."
