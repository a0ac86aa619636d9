"""Story 1: a reader subscribes from the home page in a real browser, with and without
JavaScript, and becomes active by opening the link of the confirmation mail."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .mailbox import html_part, link, text_part


@pytest.mark.parametrize("javascript", [True, False], ids=["javascript", "no-javascript"])
def test_reader_subscribes_in_the_browser_and_confirms_by_mail(
    site, mailbox, open_page, screenshot, javascript
):
    address = f"s1-{'js' if javascript else 'no-js'}@example.org"
    tab = open_page(java_script_enabled=javascript)
    tab.goto(site.url + "/")
    screenshot(tab, "home")
    tab.get_by_label(re.compile("email", re.IGNORECASE)).fill(address)
    screenshot(tab, "address-typed")
    with tab.expect_navigation():
        tab.get_by_role("button", name=re.compile("subscribe", re.IGNORECASE)).click()
    screenshot(tab, "check-your-inbox")
    expect(tab.locator("h1")).to_contain_text(re.compile("check your inbox", re.IGNORECASE))
    assert address in site.subscribers("pending"), "Nobody is active before confirming."

    confirmation = mailbox.wait_for_one_to(address)
    confirm_url = link(html_part(confirmation), "", "/confirm/")
    assert confirm_url.startswith(f"{site.url}/confirm/")
    assert confirm_url in text_part(confirmation), "The text part carries the same link."
    response = tab.goto(confirm_url)
    assert response is not None and response.status == 200
    assert address in site.subscribers("pending"), (
        "Opening the link (as scanners do) confirms nothing."
    )
    with tab.expect_navigation():
        tab.get_by_role("button", name="Confirm my subscription").click()
    screenshot(tab, "confirmed")
    assert tab.get_by_role("heading", level=1).inner_text() == "Welcome"
    assert address in site.subscribers("active")
