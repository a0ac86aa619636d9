"""Story 5: every kind of page is valid HTML (Nu HTML Checker) and meets WCAG 2.1 A/AA (axe-core
in Chromium) in the light and in the dark colour scheme."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page

from .checkers import axe_violations, validate_html, vnu_unavailable
from .httpclient import HttpClient, HttpResponse, csrf_token_in
from .live import LiveSite
from .mailbox import Mailbox, html_part, link, list_unsubscribe_url

# Pages any visitor reaches with a GET, which exist without subscriptions.
READING_PAGES = ["home", "essay", "archive", "tags", "tag", "not-found"]
# Pages around signing up; some are answers to the form.
SIGNUP_PAGES = ["subscribe", "subscribe-invalid", "check-inbox", "confirm", "bad-link"]
# Pages reached from the unsubscribe link of a sent essay.
LEAVING_PAGES = ["unsubscribe", "unsubscribed"]
ALL_PAGES = READING_PAGES + SIGNUP_PAGES + LEAVING_PAGES
# An address a browser's type=email accepts but the server refuses (no dot in the domain).
REFUSED_ADDRESS = "someone@example"
BAD_CONFIRM_PATH = "/confirm/not-a-valid-token"


@pytest.fixture(scope="module")
def reading_paths(site: LiveSite) -> dict[str, list[str]]:
    """The reading pages' paths: every essay on the home page, the first tag of /tags/."""
    essays = [a["href"] for a in site.get("/").soup().select("main article h2 a[href]")]
    tag = site.get("/tags/").soup().select_one("main a[href^='/tags/']")
    assert essays and tag is not None, "The home page or /tags/ links to nothing."
    return {
        "home": ["/"],
        "essay": essays,
        "archive": ["/archive/"],
        "tags": ["/tags/"],
        "tag": [tag["href"]],
        "not-found": ["/no-such-page/"],
    }


@pytest.fixture(scope="module")
def reading_report(site, reading_paths, tmp_path_factory) -> dict[str, list[str]]:
    """The Nu HTML Checker's errors for each reading page, as served."""
    documents = {}
    for name, paths in reading_paths.items():
        for number, path in enumerate(paths, start=1):
            response = site.get(path)
            assert response.status == (404 if name == "not-found" else 200), f"GET {path}"
            documents[f"{name}-{number}"] = response.body
    report = validate_html(documents, tmp_path_factory.mktemp("vnu-reading"))
    errors: dict[str, list[str]] = {name: [] for name in reading_paths}
    for name, paths in reading_paths.items():
        for number, path in enumerate(paths, start=1):
            errors[name] += [f"{path}: {line}" for line in report[f"{name}-{number}"]]
    return errors


@dataclass(frozen=True)
class Served:
    """Pages as served (for the checker), and the personal links that lead to them."""

    documents: dict[str, bytes]
    links: dict[str, str]


@pytest.fixture(scope="module")
def signup_pages(site: LiveSite, mailbox: Mailbox) -> Served:
    """Sign up over HTTP as a browser without JavaScript does; confirm from the mail."""
    documents = {}
    client = HttpClient(cookies=True)
    form_page = expect(200, client.request(f"{site.url}/subscribe"), "GET /subscribe")
    documents["subscribe"] = form_page.body
    token = csrf_token_in(form_page)
    answers = {
        "subscribe-invalid": (REFUSED_ADDRESS, 400),
        "check-inbox": ("s5-web@example.org", 200),
    }
    for name, (address, status) in answers.items():
        form = {"csrf_token": token, "email": address}
        response = client.request(f"{site.url}/subscribe", form=form)
        documents[name] = expect(status, response, f"POST /subscribe {address}").body
    confirm = link(html_part(mailbox.wait_for_one_to("s5-web@example.org")), "", "/confirm/")
    documents["confirm"] = expect(200, site.get(urlsplit(confirm).path), confirm).body
    documents["bad-link"] = expect(400, site.get(BAD_CONFIRM_PATH), BAD_CONFIRM_PATH).body
    return Served(documents, {"confirm": confirm})


@pytest.fixture(scope="module")
def leaving_pages(site: LiveSite, mailbox: Mailbox) -> Served:
    """Send an essay to three readers; one looks at the unsubscribe page, one leaves by HTTP."""
    readers = ["s5-stays@example.org", "s5-leaves@example.org", "s5-leaves-in-browser@example.org"]
    site.add_subscribers(*readers)
    site.flask("send", "--new", "--yes")
    stays, leaves, leaves_in_browser = (
        urlsplit(list_unsubscribe_url(mailbox.wait_for_one_to(reader))).path for reader in readers
    )
    documents = {"unsubscribe": expect(200, site.get(stays), stays).body}
    client = HttpClient(cookies=True)
    page = expect(200, client.request(site.url + leaves), leaves)
    done = client.request(site.url + leaves, form={"csrf_token": csrf_token_in(page)})
    documents["unsubscribed"] = expect(200, done, f"POST {leaves}").body
    links = {"unsubscribe": stays, "unsubscribe-in-browser": leaves_in_browser}
    return Served(documents, links)


def expect(status: int, response: HttpResponse, what: str) -> HttpResponse:
    """The response, after checking its status."""
    assert response.status == status, f"{what} answered {response.status}, not {status}"
    return response


@pytest.fixture(scope="module")
def signup_report(signup_pages, tmp_path_factory) -> dict[str, list[str]]:
    """The Nu HTML Checker's errors for each sign-up page, as served."""
    return validate_html(signup_pages.documents, tmp_path_factory.mktemp("vnu-signup"))


@pytest.fixture(scope="module")
def leaving_report(leaving_pages, tmp_path_factory) -> dict[str, list[str]]:
    """The Nu HTML Checker's errors for the unsubscribe pages, as served."""
    return validate_html(leaving_pages.documents, tmp_path_factory.mktemp("vnu-leaving"))


@pytest.mark.parametrize("name", ALL_PAGES)
def test_page_is_valid_html(name: str, request: pytest.FixtureRequest):
    reason = vnu_unavailable()
    if reason:
        pytest.skip(reason)
    group = "reading" if name in READING_PAGES else "signup" if name in SIGNUP_PAGES else "leaving"
    report = request.getfixturevalue(f"{group}_report")
    assert report[name] == [], f"The Nu HTML Checker finds errors in the {name} page:\n" + (
        "\n".join(report[name])
    )


@pytest.mark.parametrize("name", ALL_PAGES)
def test_page_meets_wcag_21_aa_in_light_and_dark(name, request, open_page, screenshot):
    site: LiveSite = request.getfixturevalue("site")
    tab = open_page()
    found = []
    if name in READING_PAGES:
        for number, path in enumerate(request.getfixturevalue("reading_paths")[name], start=1):
            tab.goto(site.url + path)
            found += violations_in_both_schemes(tab, screenshot, f"{name}-{number}")
    else:
        show(name, tab, request)
        found += violations_in_both_schemes(tab, screenshot, name)
    assert found == [], "axe-core finds WCAG 2.1 A/AA violations:\n" + "\n".join(found)


def violations_in_both_schemes(tab: Page, screenshot, label: str) -> list[str]:
    """axe-core's findings on the displayed page in the light, then the dark colour scheme."""
    found = []
    for scheme in ("light", "dark"):
        tab.emulate_media(color_scheme=scheme)
        screenshot(tab, f"{label}-{scheme}")
        found += [f"{tab.url} ({scheme}): {line}" for line in axe_violations(tab)]
    return found


def show(name: str, tab: Page, request: pytest.FixtureRequest) -> None:
    """Bring the browser to the sign-up or leaving page `name`, the way a reader gets there."""
    site: LiveSite = request.getfixturevalue("site")

    def signup(key: str) -> str:
        return request.getfixturevalue("signup_pages").links[key]

    def leaving(key: str) -> str:
        return site.url + request.getfixturevalue("leaving_pages").links[key]

    visits: dict[str, Callable[[], object]] = {
        "subscribe": lambda: tab.goto(f"{site.url}/subscribe"),
        "subscribe-invalid": lambda: submit_form(tab, site, REFUSED_ADDRESS),
        "check-inbox": lambda: submit_form(tab, site, "s5-browser@example.org"),
        "confirm": lambda: tab.goto(signup("confirm")),
        "bad-link": lambda: tab.goto(site.url + BAD_CONFIRM_PATH),
        "unsubscribe": lambda: tab.goto(leaving("unsubscribe")),
        "unsubscribed": lambda: leave(tab, leaving("unsubscribe-in-browser")),
    }
    visits[name]()


def submit_form(tab: Page, site: LiveSite, address: str) -> None:
    """Fill the form of /subscribe and send it."""
    tab.goto(f"{site.url}/subscribe")
    tab.get_by_label(re.compile("email", re.IGNORECASE)).fill(address)
    with tab.expect_navigation():
        tab.get_by_role("button", name="Subscribe").click()


def leave(tab: Page, unsubscribe_url: str) -> None:
    """Open an unsubscribe link and press its button."""
    tab.goto(unsubscribe_url)
    with tab.expect_navigation():
        tab.get_by_role("button", name="Unsubscribe").click()
