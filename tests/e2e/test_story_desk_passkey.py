"""Story: the author registers a passkey on the desk and later signs in with it, no mail, in
Chromium with its WebAuthn virtual authenticator (DevTools protocol). WebAuthn refuses an IP
address as the site's identity, so this site's SITE_URL says localhost."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import free_port
from playwright.sync_api import Page

from .live import LiveSite


@pytest.fixture(scope="module")
def localhost_site(tmp_path_factory, mailbox) -> Iterator[LiveSite]:
    """The app under `make serve`, known to itself as http://localhost:PORT."""
    port = free_port()
    live = LiveSite(tmp_path_factory.mktemp("site"), port, smtp_port=mailbox.port)
    live.url = f"http://localhost:{port}"
    live.env["FLASK_SITE_URL"] = live.url
    live.prepare()
    try:
        live.start()
        yield live
    finally:
        live.stop()


def add_virtual_authenticator(tab: Page) -> None:
    """A platform authenticator that holds passkeys and says yes by itself."""
    cdp = tab.context.new_cdp_session(tab)
    cdp.send("WebAuthn.enable")
    options = {
        "protocol": "ctap2",
        "transport": "internal",
        "hasResidentKey": True,
        "hasUserVerification": True,
        "isUserVerified": True,
        "automaticPresenceSimulation": True,
    }
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})


def test_a_passkey_registered_on_the_desk_signs_in_without_mail(localhost_site, open_page):
    site = localhost_site
    tab = open_page()
    add_virtual_authenticator(tab)
    (link,) = site.flask("desk", "link").stdout.splitlines()
    tab.goto(link)
    tab.click("main button:has-text('Sign in')")
    assert tab.locator("h1").inner_text() == "Overview"

    tab.click("nav >> text=Passkeys")
    tab.fill("#passkey-name", "Virtual key")
    tab.click("#passkey-register")
    tab.wait_for_selector("main tbody td:has-text('Virtual key')")

    tab.click("text=Sign out")
    assert tab.locator("h1").inner_text() == "Sign in to the desk"
    tab.click("#passkey-sign-in")
    tab.wait_for_url(f"{site.url}/desk/")
    assert tab.locator("h1").inner_text() == "Overview"
