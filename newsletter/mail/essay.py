"""The essay email, built once per essay; each recipient only costs a few string joins.

Building a full `email.message` per recipient costs about 1 ms for a 20 KB essay, which is
most of a send's time. Here the headers and both bodies are rendered, CSS-inlined and
quoted-printable encoded once; the per-reader parts (To, Message-ID, Date and the personal
unsubscribe URL) are spliced in with QP soft line breaks, so the decoded text is exact.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from email import quoprimime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formataddr, formatdate, parseaddr

import css_inline
from flask import current_app, render_template
from markupsafe import Markup

from newsletter.content.dates import display_date
from newsletter.content.library import get_library
from newsletter.content.plaintext import html_to_plain
from newsletter.content.posts import Post
from newsletter.links import absolutize, post_url, site_url
from newsletter.mail.identity import from_address, sender_address, site_domain

# Gmail clips messages whose HTML is larger than about 102 KB.
HTML_CLIP_BYTES = 100 * 1024
# Stands in for the personal unsubscribe URL while rendering; a URL so HTML tools keep it.
PLACEHOLDER = "https://unsubscribe.invalid/placeholder"
_SOFT_BREAK = b"=\r\n"
_INLINER = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


class AddressError(ValueError):
    """An address this sender cannot put on a message (line breaks, non-ASCII mailbox)."""


@dataclass(frozen=True)
class EssayEmail:
    """An essay's message with holes for the per-recipient parts."""

    slug: str
    subject: str
    envelope_from: str
    head: bytes  # the shared header lines, CRLF-terminated
    pieces: tuple[bytes, ...]  # the encoded body, cut where the unsubscribe URL goes
    text: str  # the text/plain part with the placeholder, for previews
    html: str  # the text/html part with the placeholder, for previews
    mailto: str | None

    @property
    def html_size(self) -> int:
        """Bytes of the HTML part as a reader's client receives it (Gmail clips past ~102 KB)."""
        return len(self.html.encode())

    def render(self, to: str, unsubscribe_url: str, message_id: str) -> bytes:
        """The whole message for one reader, ready for SMTP DATA."""
        unsubscribe = f"<{unsubscribe_url}>"
        if self.mailto:
            unsubscribe += f", <mailto:{self.mailto}?subject=unsubscribe>"
        head = (
            f"To: {header_address(to)}\r\n"
            f"Date: {formatdate(localtime=False, usegmt=True)}\r\n"
            f"Message-ID: {message_id}\r\n"
            f"List-Unsubscribe: {unsubscribe}\r\n"
        ).encode("ascii")
        return head + self.head + _qp_splice(unsubscribe_url).join(self.pieces)


def header_address(address: str) -> str:
    """An address fit for the To header: ASCII, IDNA domain, no line breaks."""
    if "\r" in address or "\n" in address:
        raise AddressError(f"The address {address!r} contains a line break.")
    local, _, domain = address.rpartition("@")
    if not local.isascii():
        raise AddressError(
            f"The address {address} has a non-ASCII mailbox name, which needs SMTPUTF8; "
            "this sender does not use it."
        )
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError:
        raise AddressError(f"The address {address} has a domain that is not valid.") from None


def build_essay_email(post: Post, *, test: bool = False) -> EssayEmail:
    """Render, inline and encode an essay's email once, for every recipient of a send."""
    text, html = render_parts(post, test=test)
    boundary = "=_essay_" + secrets.token_hex(12)  # "=_" never occurs in QP-encoded text
    pieces = [b""]
    for subtype, content in (("plain", text), ("html", html)):
        pieces[-1] += (
            f"--{boundary}\r\n"
            f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        ).encode()
        first, *rest = content.split(PLACEHOLDER)
        pieces[-1] += _qp(first)
        pieces += [_qp(chunk) for chunk in rest]
        pieces[-1] += b"\r\n"
    pieces[-1] += f"--{boundary}--\r\n".encode()
    config = current_app.config
    prefix = "[TEST] " if test else ""
    subject = f"{prefix}{config['MAIL_SUBJECT_PREFIX']}{post.title}"
    return EssayEmail(
        slug=post.slug,
        subject=subject,
        envelope_from=envelope_sender(),
        head=shared_headers(subject, boundary) + b"\r\n",
        pieces=tuple(pieces),
        text=text,
        html=html,
        mailto=config.get("MAIL_UNSUBSCRIBE_MAILTO"),
    )


def render_parts(post: Post, *, test: bool = False) -> tuple[str, str]:
    """The text and the CSS-inlined HTML of an essay email, with the unsubscribe placeholder."""
    web_url = post_url(post.slug)
    body_html = absolutize(post.html, web_url)
    context = {
        "post": post,
        "test": test,
        "web_url": web_url,
        "site_url": site_url("/"),
        "unsubscribe_url": PLACEHOLDER,
        "date_text": display_date(post.published_at, get_library().timezone),
        "body_html": Markup(body_html),  # the author's own essay, rendered by posts.py
        "body_text": html_to_plain(body_html),
    }
    text = render_template("email/essay.txt", **context)
    html = _INLINER.inline(render_template("email/essay.html", **context))
    return text, html


def shared_headers(subject: str, boundary: str) -> bytes:
    """The headers every copy shares, encoded and folded once by the `email` package."""
    config = current_app.config
    name, address = from_address()
    message = EmailMessage(policy=SMTP)
    message["From"] = Address(display_name=name, addr_spec=parseaddr(address)[1] or address)
    message["Subject"] = subject
    message["List-Id"] = formataddr((config["SITE_TITLE"], f"newsletter.{site_domain()}"))
    # RFC 8058: mail clients may unsubscribe with one POST to the List-Unsubscribe URL.
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["MIME-Version"] = "1.0"
    message["Content-Type"] = f'multipart/alternative; boundary="{boundary}"'
    # Only the header lines: serialising a multipart message without parts would add a body.
    return b"".join(SMTP.fold_binary(name, value) for name, value in message.items())


def envelope_sender() -> str:
    """The MAIL FROM address: the bare address of `MAIL_DEFAULT_SENDER`."""
    return sender_address()


def _qp(text: str) -> bytes:
    """Quoted-printable, CRLF line ends, lines short enough that a soft break can follow."""
    latin = text.replace("\r\n", "\n").encode("utf-8").decode("latin-1")
    return quoprimime.body_encode(latin, maxlinelen=74, eol="\r\n").encode("ascii")


def _qp_splice(url: str) -> bytes:
    """A URL as QP lines between two soft breaks, so it joins two encoded pieces exactly."""
    if url.isascii() and "=" not in url and " " not in url:
        lines = [url[i : i + 74] for i in range(0, len(url), 74)]  # the common, fast case
        return _SOFT_BREAK + _SOFT_BREAK.join(line.encode() for line in lines) + _SOFT_BREAK
    return _SOFT_BREAK + _qp(url) + _SOFT_BREAK
