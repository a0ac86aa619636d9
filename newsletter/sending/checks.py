"""What the author should hear before a send: an earlier send of the same essay, a newer essay
already sent, a slug that is nearly right. Read-only; `flask send` words and asks."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from newsletter.content.dates import display_date
from newsletter.content.library import get_library
from newsletter.content.posts import Post
from newsletter.extensions import db
from newsletter.sending.ledger import deliveries, mailings
from newsletter.sending.models import DeliveryStatus, MailingStatus


@dataclass(frozen=True)
class SendFacts:
    """An essay's past: readers who already have it (and when it last went out), and the
    newest essay already sent when that one is newer than this essay."""

    already_sent: int = 0
    last_sent_at: datetime | None = None
    newer_sent: Post | None = None


def send_facts(post: Post) -> SendFacts:
    """Look up what the ledger says about `post` and the essays sent before it."""
    sent = deliveries.c.status == DeliveryStatus.SENT
    query = select(func.count(), func.max(deliveries.c.sent_at)).where(
        deliveries.c.post_slug == post.slug, sent
    )
    started = select(mailings.c.post_slug).where(
        mailings.c.status.in_((MailingStatus.DONE, MailingStatus.SENDING))
    )
    with db.engine.connect() as conn:
        count, last = conn.execute(query).one()
        sent_slugs = set(conn.execute(started).scalars())
    newer = [
        p
        for p in get_library().rescan().published
        if p.slug in sent_slugs and p.slug != post.slug and p.published_at > post.published_at
    ]
    return SendFacts(count, last, max(newer, key=lambda p: p.published_at, default=None))


def send_warnings(facts: SendFacts, post: Post, recipients: int) -> list[str]:
    """The sentences `flask send SLUG` prints before it asks."""
    timezone = get_library().timezone
    lines = []
    if facts.already_sent:
        when = (
            display_date(facts.last_sent_at, timezone) if facts.last_sent_at else "an earlier day"
        )
        lines.append(
            f"Already sent to {facts.already_sent} readers on {when}; "
            f"{recipients} new readers since."
        )
    if facts.newer_sent is not None:
        newer = facts.newer_sent
        lines.append(
            f"'{post.title}' ({display_date(post.published_at, timezone)}) is older than "
            f"'{newer.title}' ({display_date(newer.published_at, timezone)}), which was "
            "already sent: readers would get an older essay after a newer one."
        )
    return lines


def nearest_slugs(slug: str, limit: int = 3) -> list[str]:
    """The slugs closest to a mistyped one (published or not), closest first."""
    slugs = [post.slug for post in get_library().rescan().every_post]
    return difflib.get_close_matches(slug, slugs, n=limit, cutoff=0.5)
