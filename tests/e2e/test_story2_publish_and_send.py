"""Story 2: the author drops a new essay into the posts folder of the running site, it goes
online and into the feeds without a restart, and `flask send --new --yes` mails it once to
every active reader; the mail's "read it on the web" link opens the essay."""

from __future__ import annotations

from collections import Counter

import feedparser

from .live import LiveSite, wait_until
from .mailbox import html_part, link, recipients

BODY = """
This essay was written while the site was running, and nobody restarted anything.

It points to [the archive](/archive/) the way authors link, relative to the site.

The last paragraph says goodbye until next week.
"""
READERS = ["s2-ada@example.org", "s2-grace@example.org", "s2-edsger@example.org"]
NOT_CONFIRMED = "s2-pending@example.org"


def lists(site: LiveSite, path: str, permalink: str) -> bool:
    """Whether the page or feed at `path` links to `permalink`."""
    response = site.get(path)
    if path.endswith(".xml"):
        return permalink in [entry.link for entry in feedparser.parse(response.body).entries]
    hrefs = [a["href"] for a in response.soup().select("main a[href]")]
    return permalink.removeprefix(site.url) in hrefs or permalink in hrefs


def test_new_essay_goes_online_and_reaches_every_reader_exactly_once(
    site, mailbox, open_page, screenshot
):
    site.add_subscribers(*READERS)
    site.flask("subscribers", "add", NOT_CONFIRMED)  # pending until the reader confirms

    essay = site.publish("story-2-fresh", "Story 2: Written While the Site Ran", BODY)
    permalink = f"{site.url}/posts/{essay.slug}/"
    for path in ("/", "/feed.xml", "/atom.xml"):
        wait_until(lambda path=path: lists(site, path, permalink), what=f"{path} to list it")

    active = site.subscribers("active")
    assert set(READERS) <= active and NOT_CONFIRMED not in active
    site.flask("send", "--new", "--yes")
    mailbox.wait_for(
        f"'{essay.title}' for every active reader",
        lambda got: len([m for m in got if essay.title in str(m["Subject"])]) >= len(active),
    )
    sent = mailbox.about(essay.title)
    assert all(len(recipients(message)) == 1 for message in sent), "One recipient per message."
    received = Counter(address for message in sent for address in recipients(message))
    assert received == Counter(active), "Every active reader gets exactly one message."

    web_link = link(html_part(sent[0]), r"on the web")
    assert web_link.split("?")[0] == permalink
    tab = open_page()
    response = tab.goto(web_link)
    screenshot(tab, "read-on-the-web")
    assert response is not None and response.status == 200
    assert tab.locator("h1").inner_text().strip() == essay.title
