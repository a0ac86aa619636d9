"""The essay email: one reader per message, readable text, inlined HTML, the list headers."""

from __future__ import annotations

import email
import email.policy
from email.utils import parseaddr

import pytest
from bs4 import BeautifulSoup

from newsletter.subscribers.tokens import read_unsubscribe_token, token_matches

ESSAY = """
First paragraph, plain prose, sometimes with  two spaces between words, long enough that the
text part has to wrap it over more than one line of seventy-two characters or so.

Paragraph with an [inline link](https://example.org/some-page.html) and a
[relative one](/about/) in it.

![A picture](images/chart.png)

- A question as a list item?
- Another one?

* * *
Text right after a horizontal rule.
"""


@pytest.fixture
def essay(write_post):
    return write_post("week-4.md", body=ESSAY, title="'Week 4: A Title With A Colon'",
                      date="2022-02-01")  # fmt: skip


def text_of(message) -> str:
    """The text/plain part with the wire's CRLF line ends made plain newlines."""
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def send(runner, *args):
    result = runner.invoke(args=["send", *args])
    assert result.exit_code == 0, result.output
    return result


def test_each_subscriber_gets_one_message_addressed_to_them_alone(
    runner, smtp_server, essay, add_subscribers
):
    readers = add_subscribers(3)
    send(runner, "week-4", "--yes")
    messages = smtp_server.messages
    assert sorted(parseaddr(m["To"])[1] for m in messages) == sorted(e for _, e in readers)
    assert all(len(rcpts) == 1 for _, rcpts in smtp_server.handler.envelopes)
    assert len({m["Message-ID"] for m in messages}) == 3


def test_headers_name_the_author_the_list_and_the_one_click_unsubscribe(
    app, runner, smtp_server, essay, add_subscribers, config
):
    [(subscriber_id, address)] = add_subscribers(1)
    send(runner, "week-4", "--yes")
    [message] = smtp_server.messages
    assert message["From"].addresses[0].display_name == "The Author"
    assert message["From"].addresses[0].addr_spec == "author@example.org"
    assert message["Subject"] == "Week 4: A Title With A Colon"
    assert message["Date"].datetime is not None
    assert message["Message-ID"].endswith("@essays.example.org>")
    assert message["List-Id"] == "A Weekly Essay <newsletter.essays.example.org>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = message["List-Unsubscribe"].strip("<>")
    assert url.startswith("https://essays.example.org/unsubscribe/")
    with app.app_context():
        token_id, digest = read_unsubscribe_token(url.rsplit("/", 1)[1])
        assert token_id == subscriber_id and token_matches(digest, address)  # keyed: needs the app
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == [
        "text/plain",
        "text/html",
    ]


def test_mailto_unsubscribe_and_subject_prefix_when_configured(
    app, runner, smtp_server, essay, add_subscribers
):
    app.config.update(MAIL_UNSUBSCRIBE_MAILTO="leave@example.org", MAIL_SUBJECT_PREFIX="[Essays] ")
    add_subscribers(1)
    send(runner, "week-4", "--yes")
    [message] = smtp_server.messages
    assert message["Subject"] == "[Essays] Week 4: A Title With A Colon"
    assert "<mailto:leave@example.org?subject=unsubscribe>" in message["List-Unsubscribe"]


def test_text_part_wraps_paragraphs_and_shows_links_as_urls(
    runner, smtp_server, essay, add_subscribers
):
    add_subscribers(1)
    send(runner, "week-4", "--yes")
    [message] = smtp_server.messages
    text = text_of(message)
    unsubscribe = message["List-Unsubscribe"].strip("<>")
    assert all(len(line) <= 72 or "://" in line for line in text.splitlines())
    assert "inline link (https://example.org/some-page.html)" in text
    assert "relative one (https://essays.example.org/about/)" in text
    assert "Read it on the web: https://essays.example.org/posts/week-4/" in text
    assert "- A question as a list item?\n- Another one?" in text
    assert "because you subscribed to A Weekly Essay" in text
    assert unsubscribe in text


def test_html_part_has_inlined_css_absolute_urls_and_a_footer(
    runner, smtp_server, essay, add_subscribers
):
    add_subscribers(1)
    send(runner, "week-4", "--yes")
    [message] = smtp_server.messages
    soup = BeautifulSoup(message.get_body(("html",)).get_content(), "html5lib")
    assert soup.find("h1").get_text() == "Week 4: A Title With A Colon"
    assert "font-family" in soup.find("div", class_="page")["style"]
    assert all(p.get("style") for p in soup.find_all("p"))
    urls = [a["href"] for a in soup.find_all("a")] + [i["src"] for i in soup.find_all("img")]
    assert all(url.startswith("https://") for url in urls)
    assert "https://essays.example.org/posts/week-4/images/chart.png" in urls
    assert "https://essays.example.org/posts/week-4/" in urls
    footer = soup.find("div", class_="footer")
    assert "because you subscribed" in footer.get_text()
    unsubscribe = footer.find("a", string="Unsubscribe")["href"]
    assert unsubscribe == message["List-Unsubscribe"].strip("<>")


def test_every_reader_gets_their_own_unsubscribe_link(
    app, runner, smtp_server, essay, add_subscribers
):
    readers = dict((email, sid) for sid, email in add_subscribers(4))
    send(runner, "week-4", "--yes")
    for message in smtp_server.messages:
        address = parseaddr(message["To"])[1]
        html = BeautifulSoup(message.get_body(("html",)).get_content(), "html5lib")
        link = html.find("a", string="Unsubscribe")["href"]
        with app.app_context():
            token_id, digest = read_unsubscribe_token(link.rsplit("/", 1)[1])
            assert token_id == readers[address] and token_matches(digest, address)


def test_raw_message_lines_stay_within_smtp_limits(runner, smtp_server, essay, add_subscribers):
    add_subscribers(1)
    send(runner, "week-4", "--yes")
    [message] = smtp_server.messages
    raw = message.as_bytes(policy=email.policy.SMTP)
    body = raw.split(b"\r\n\r\n", 1)[1]
    assert max(len(line) for line in body.split(b"\r\n")) <= 76
    assert raw.isascii()


def test_test_send_goes_to_one_address_marked_as_test_and_records_nothing(
    app, runner, smtp_server, write_post, add_subscribers
):
    write_post("draft.md", title="Draft", date="2022-02-01", draft="true")
    add_subscribers(2)
    result = send(runner, "draft", "--test", "me@example.net")
    assert "No record was changed" in result.output
    [message] = smtp_server.messages
    assert message["To"] == "me@example.net"
    assert message["Subject"] == "[TEST] Draft"
    assert "TEST SEND" in text_of(message)
    assert "never sent" in send(runner, "status", "draft").output


def test_dry_run_counts_readers_and_sends_nothing(runner, smtp_server, essay, add_subscribers):
    add_subscribers(3)
    add_subscribers(2, start=10, status="pending")
    result = send(runner, "week-4", "--dry-run")
    assert "Recipients: 3" in result.output
    assert "Week 4: A Title With A Colon" in result.output
    assert "2022-02-01" in result.output
    assert "nothing was sent" in result.output
    assert smtp_server.messages == []
    assert "never sent" in send(runner, "status", "week-4").output


def test_send_asks_before_mailing_and_stops_on_no(runner, smtp_server, essay, add_subscribers):
    add_subscribers(2)
    result = runner.invoke(args=["send", "week-4"], input="n\n")
    assert "Send 'Week 4: A Title With A Colon' to 2 readers?" in result.output
    assert result.exit_code == 1
    assert smtp_server.messages == []


def test_large_html_part_is_warned_about_before_sending(runner, write_post, add_subscribers):
    paragraph = "A sentence that goes on for a while and then some more words here. " * 30
    write_post("long.md", title="Long", date="2022-02-01", body="\n\n".join([paragraph] * 80))
    add_subscribers(1)
    result = runner.invoke(args=["send", "long", "--dry-run"])
    assert "Gmail clips" in result.output


def test_without_mail_server_messages_land_in_the_outbox(runner, essay, add_subscribers, config):
    add_subscribers(2)
    send(runner, "week-4", "--yes")
    files = sorted((__import__("pathlib").Path(config["OUTBOX_DIR"])).glob("*.eml"))
    assert len(files) == 2
    message = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert message["Subject"] == "Week 4: A Title With A Colon"


def test_preview_writes_the_eml_and_html_for_the_author(runner, essay, tmp_path):
    result = runner.invoke(args=["preview", "week-4", "--output", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    eml = email.message_from_bytes((tmp_path / "p" / "week-4.eml").read_bytes(),
                                   policy=email.policy.default)  # fmt: skip
    assert eml["Subject"] == "Week 4: A Title With A Colon"
    soup = BeautifulSoup((tmp_path / "p" / "week-4.html").read_text(), "html5lib")
    assert soup.find("h1").get_text() == "Week 4: A Title With A Colon"
    assert "unsubscribe.invalid" not in str(soup)
