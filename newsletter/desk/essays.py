"""The essays as the desk lists them: each post file with its state and its send's state, and
the email a reader would get, for the preview."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from newsletter.content.frontmatter import PostProblem
from newsletter.content.library import get_library
from newsletter.content.posts import Post
from newsletter.desk import queries
from newsletter.mail.essay import PLACEHOLDER, build_essay_email
from newsletter.sending.models import MailingStatus
from newsletter.subscribers.tokens import unsubscribe_url

PREVIEW_ADDRESS = "reader@example.org"
SEND_STATES = {
    MailingStatus.DONE: "sent",
    MailingStatus.SENDING: "partly sent",
    MailingStatus.SKIPPED: "back catalogue (not mailed)",
}


@dataclass(frozen=True)
class EssayRow:
    """One post file in the desk's list."""

    post: Post
    state: str  # published, draft, scheduled, expired
    send_state: str  # never sent, partly sent, sent, back catalogue


def essays() -> tuple[list[EssayRow], tuple[PostProblem, ...]]:
    """Every post, newest first, with its states; and the broken files with their reasons."""
    snapshot = get_library().rescan()
    now = datetime.now(UTC)
    mailings = queries.mailings_by_slug()
    rows = []
    for post in snapshot.every_post:
        mailing = mailings.get(post.slug)
        send_state = SEND_STATES.get(mailing.status, mailing.status) if mailing else "never sent"
        rows.append(EssayRow(post, post.state(now), send_state))
    return rows, snapshot.problems


def find(slug: str) -> Post | None:
    """Any post with this slug, drafts and scheduled ones included."""
    snapshot = get_library().rescan()
    return next((post for post in snapshot.every_post if post.slug == slug), None)


def is_published(post: Post) -> bool:
    """True when the essay may be sent to readers now."""
    return post.is_published(datetime.now(UTC))


@dataclass(frozen=True)
class Preview:
    """The two parts of the email as a reader gets them, and the subject line."""

    subject: str
    text: str
    html: str
    html_size: int


def preview(post: Post) -> Preview:
    """Render the essay's email with a preview reader's unsubscribe link."""
    essay = build_essay_email(post)
    link = unsubscribe_url(0, PREVIEW_ADDRESS)
    return Preview(
        subject=essay.subject,
        text=essay.text.replace(PLACEHOLDER, link),
        html=essay.html.replace(PLACEHOLDER, link),
        html_size=essay.html_size,
    )
