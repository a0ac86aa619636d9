"""Sending an essay to every confirmed reader exactly once; proofs, previews and status.

The rules: a real send takes only a published essay; it goes to every active subscriber who
has no `sent` ledger row for it; a row left in `sending` by a crash is uncertain and is only
tried again when the author asks (`retry_uncertain`); `flask send --new` never mails the back
catalogue of a site that has never sent anything.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from flask import current_app

from newsletter.content.library import get_library
from newsletter.content.posts import Post
from newsletter.extensions import db
from newsletter.mail.backend import transport_factory
from newsletter.mail.essay import HTML_CLIP_BYTES, PLACEHOLDER, EssayEmail, build_essay_email
from newsletter.mail.identity import new_message_id
from newsletter.mail.outbox import file_name
from newsletter.mail.transport import DeliveryError, Envelope
from newsletter.sending import checks, clock, ledger, ledger_counts
from newsletter.sending.models import MailingStatus
from newsletter.sending.pool import Run, SendOptions, SendReport, counting, run_pool
from newsletter.subscribers.addresses import InvalidAddress, normalise_address
from newsletter.subscribers.tokens import unsubscribe_url

PREVIEW_ADDRESS = "reader@example.org"


class SendError(Exception):
    """A send that cannot start; the message says what to do."""


@dataclass(frozen=True)
class SendPlan:
    """What `flask send SLUG` shows before asking for confirmation."""

    post: Post
    recipients: int
    uncertain: int
    html_size: int
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class NewPlan:
    """What `flask send --new` would do: essays to send (oldest first) and to mark skipped."""

    send: tuple[Post, ...]
    skip: tuple[Post, ...]


@dataclass(frozen=True)
class EssayStatus:
    """One essay's line in `flask send status`."""

    slug: str
    title: str
    mailing: str  # never sent, sending, done, skipped
    sent: int = 0
    failed: int = 0
    uncertain: int = 0
    pending: int = 0


def find_post(slug: str, *, proof: bool = False) -> Post:
    """The essay to send; drafts and scheduled essays only for proofs and previews."""
    snapshot = get_library().rescan()
    post = snapshot.by_slug.get(slug)
    if post is None and proof:
        post = next((p for p in snapshot.every_post if p.slug == slug), None)
    if post is not None:
        return post
    for problem in snapshot.problems:
        if Path(problem.path).stem.endswith(slug):
            raise SendError(f"{problem.message} Fix the file before sending it.")
    if any(p.slug == slug for p in snapshot.every_post):
        raise SendError(
            f"The essay '{slug}' is not published (a draft, scheduled for later, or expired). "
            f"Use --test ADDRESS or 'flask preview {slug}' to proof it."
        )
    raise SendError(unknown_slug_message(slug))


def unknown_slug_message(slug: str) -> str:
    """Say no essay has `slug`, and suggest the nearest ones."""
    nearest = checks.nearest_slugs(slug)
    if nearest:
        names = " or ".join(f"'{name}'" for name in nearest)
        return f"No essay has the slug '{slug}'. Did you mean {names}?"
    return f"No essay has the slug '{slug}'. 'flask posts list' shows the slugs."


def plan_send(slug: str, *, retry_uncertain: bool = False) -> SendPlan:
    """Count the recipients of a send and collect warnings, sending nothing."""
    post = find_post(slug)
    essay = build_essay_email(post)
    now = clock.now()
    with db.engine.connect() as conn:
        recipients = ledger.count_recipients(conn, slug, retry_uncertain, now)
        uncertain = 0 if retry_uncertain else ledger_counts.count_uncertain(conn, slug, now)
    return SendPlan(post, recipients, uncertain, essay.html_size, tuple(warnings_for(essay)))


def warnings_for(essay: EssayEmail) -> list[str]:
    """Problems the author should hear about before mailing everyone."""
    config = current_app.config
    warnings = []
    if essay.html_size > HTML_CLIP_BYTES:
        warnings.append(
            f"The HTML part is {essay.html_size // 1024} KB: Gmail clips messages over about "
            "102 KB behind a 'View entire message' link. Consider a shorter essay or fewer images."
        )
    if config["MAIL_USE_OUTBOX"]:
        warnings.append(
            f"MAIL_SERVER is not set: messages are written to {config['OUTBOX_DIR']} instead."
        )
    if urlsplit(config["SITE_URL"]).hostname in ("127.0.0.1", "localhost"):
        warnings.append(
            f"SITE_URL is {config['SITE_URL']}: readers' links would point to this machine."
        )
    return warnings


def send_options() -> SendOptions:
    """The SEND_* and MAIL_MAX_PER_SECOND settings of the current app."""
    config = current_app.config
    return SendOptions(
        connections=max(1, int(config["SEND_CONNECTIONS"])),
        max_attempts=max(1, int(config["SEND_MAX_ATTEMPTS"])),
        retry_delay=float(config["SEND_RETRY_DELAY"]),
        max_per_second=float(config["MAIL_MAX_PER_SECOND"] or 0),
        max_silent=max(1, int(config["SEND_STOP_AFTER_TIMEOUTS"])),
    )


def send_essay(
    slug: str,
    *,
    retry_uncertain: bool = False,
    stop: threading.Event | None = None,
    progress: Callable[[], None] | None = None,
) -> SendReport:
    """Send a published essay to every active subscriber who has not had it yet."""
    post = find_post(slug)
    engine = db.engine
    clock.sync(engine)  # the database's clock: other machines may be sending this essay too
    started = clock.now()
    options = replace(send_options(), retry_uncertain=retry_uncertain)
    with engine.begin() as conn:
        ledger.start_mailing(conn, slug, post.title)
    report = SendReport(slug)
    run = Run(
        current_app._get_current_object(), engine,  # type: ignore[attr-defined]
        build_essay_email(post), transport_factory(), options, started,
        stop or threading.Event(), counting(report, progress),
    )  # fmt: skip
    batch = max(1, int(current_app.config["SEND_BATCH_SIZE"]))
    recipients = ledger.iter_recipients(engine, slug, batch, retry_uncertain, started)
    schedule, watch = run_pool(run, recipients)
    count_left_waiting(report, schedule)
    finish_report(report, run, watch.error)
    if not report.stopped and report.error is None:
        with engine.begin() as conn:
            ledger.finish_mailing(conn, slug)
    return report


def count_left_waiting(report: SendReport, schedule) -> None:
    """Retries still waiting when the run stopped: their rows stay `failed` for a rerun."""
    for job in schedule.left_waiting():
        report.failed += 1
        report.failures.append((job.recipient.email, "stopped before a retry"))


def finish_report(report: SendReport, run: Run, error: str | None) -> None:
    """Add what the ledger holds besides this run's own outcomes, and why the run stopped."""
    # Read at the end, not the start: a row another send had in flight then is settled by now.
    with run.engine.connect() as conn:
        uncertain, in_flight = ledger_counts.left_by_others(conn, report.slug, run.started)
    if not run.options.retry_uncertain:
        report.uncertain += uncertain
    report.in_flight = in_flight
    report.error = error
    report.stopped = run.stop.is_set() and error is None


def send_test(slug: str, address: str) -> Path | None:
    """Mail one proof of an essay (drafts too), marked as a test, touching no record; without
    MAIL_SERVER it is written to the outbox, and its path is returned."""
    try:
        address = normalise_address(address)
    except InvalidAddress as error:
        raise SendError(f"The test address {address!r} cannot be used: {error}") from None
    essay = build_essay_email(find_post(slug, proof=True), test=True)
    data = essay.render(address, unsubscribe_url(0, address), new_message_id())
    if current_app.config["MAIL_USE_OUTBOX"]:
        folder = Path(current_app.config["OUTBOX_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / file_name(address)  # named as the outbox transport names its files
        path.write_bytes(data)
        return path
    transport = transport_factory()()
    try:
        transport.send(Envelope(essay.envelope_from, address, data))
    except DeliveryError as error:
        raise SendError(f"The test message to {address} was not sent: {error.reply}") from None
    finally:
        transport.close()
    return None


def write_preview(slug: str, directory: Path | None = None) -> tuple[Path, Path]:
    """Write the email as a reader gets it: `<slug>.eml` and `<slug>.html`."""
    post = find_post(slug, proof=True)
    essay = build_essay_email(post)
    folder = Path(directory or Path(current_app.instance_path) / "preview")
    folder.mkdir(parents=True, exist_ok=True)
    link = unsubscribe_url(0, PREVIEW_ADDRESS)
    eml = folder / f"{post.slug}.eml"
    eml.write_bytes(essay.render(PREVIEW_ADDRESS, link, new_message_id()))
    html = folder / f"{post.slug}.html"
    html.write_text(essay.html.replace(PLACEHOLDER, link), encoding="utf-8")
    return eml, html


def plan_new() -> NewPlan:
    """Published essays never sent (or interrupted), oldest first. Essays older than the
    newest one ever sent or marked are back catalogue; on a site that never sent anything,
    that leaves only the newest."""
    published = get_library().rescan().published  # newest first
    with db.engine.connect() as conn:
        states = ledger_counts.mailing_states(conn)
    known = [p.published_at for p in published if p.slug in states]
    if not known:
        return NewPlan(send=tuple(published[:1]), skip=tuple(published[1:]))
    newest_known = max(known)
    send, skip = [], []
    for post in published:
        state = states.get(post.slug)
        if state == MailingStatus.SENDING or (state is None and post.published_at > newest_known):
            send.append(post)
        elif state is None:
            skip.append(post)
    return NewPlan(send=tuple(reversed(send)), skip=tuple(skip))


def mark_skipped(posts: tuple[Post, ...]) -> None:
    """Record essays as back catalogue, so `--new` never sends them."""
    with db.engine.begin() as conn:
        for post in posts:
            ledger.skip_mailing(conn, post.slug, post.title)


def essay_statuses(slug: str | None = None) -> list[EssayStatus]:
    """Each essay's sends: sent, failed, uncertain (left in `sending`) and still pending."""
    snapshot = get_library().rescan()
    titles = {p.slug: p.title for p in snapshot.every_post}
    posts = snapshot.published  # drafts and scheduled essays have no sends to show
    with db.engine.connect() as conn:
        states = ledger_counts.mailing_states(conn)
        counts = ledger_counts.delivery_counts(conn)
        slugs = [slug] if slug else list(dict.fromkeys([p.slug for p in posts] + list(states)))
        lines = []
        for name in slugs:
            state = states.get(name)
            in_ledger = state in (MailingStatus.SENDING, MailingStatus.DONE)
            pending = ledger_counts.pending_count(conn, name) if in_ledger else 0
            lines.append(
                EssayStatus(
                    slug=name,
                    title=titles.get(name, "(essay file gone)"),
                    mailing=state or "never sent",
                    sent=counts.get((name, "sent"), 0),
                    failed=counts.get((name, "failed"), 0),
                    uncertain=counts.get((name, "sending"), 0),
                    pending=pending,
                )
            )
    return lines


def problem_rows(slug: str) -> list[tuple[str, str, int, str]]:
    """Failed and uncertain rows of one essay, with reasons."""
    with db.engine.connect() as conn:
        return ledger_counts.problem_rows(conn, slug)
