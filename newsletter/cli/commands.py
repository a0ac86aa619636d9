"""The author's `flask` commands. Thin: each calls one domain function and prints its result."""

from __future__ import annotations

import logging
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import click
from flask.cli import AppGroup

from newsletter.cli import postcheck
from newsletter.content.dates import display_datetime, display_day
from newsletter.content.library import get_library
from newsletter.content.markdown_check import post_warnings
from newsletter.subscribers import roster, subscriptions, transfer
from newsletter.subscribers.models import SubscriberStatus

posts_cli = AppGroup("posts", help="Check and list the essays in POSTS_DIR.")
subscribers_cli = AppGroup("subscribers", help="Manage the subscriber list.")


# --- flask posts ------------------------------------------------------------------------------


@posts_cli.command("check")
def posts_check() -> None:
    """List every problem in every post file, once, at its line; exit 1 if there is any."""
    library = get_library()
    with quiet_library_log():  # each problem is printed below; the log would say it again
        snapshot = library.rescan()
    lines = list(postcheck.every_line(snapshot.problems, library.posts_dir, library.timezone))
    for line in lines:
        click.echo(line, err=True)
    for warning in post_warnings(snapshot.every_post):
        click.echo(f"Warning: {warning}", err=True)
    if snapshot.problems:
        click.echo(
            f"{plural(len(lines), 'problem')} in {plural(len(snapshot.problems), 'file')}; "
            f"{plural(len(snapshot.every_post), 'post file')} fine."
        )
        raise SystemExit(1)
    click.echo(f"All {len(snapshot.every_post)} post files are fine.")


def plural(count: int, noun: str) -> str:
    """'1 problem', '2 problems'."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


@contextmanager
def quiet_library_log() -> Iterator[None]:
    """Silence the library's log lines about broken files for the length of a scan."""
    loggers = [logging.getLogger(f"newsletter.content.{name}") for name in ("library", "posts")]
    previous = [logger.disabled for logger in loggers]
    for logger in loggers:
        logger.disabled = True
    try:
        yield
    finally:
        for logger, was in zip(loggers, previous, strict=True):
            logger.disabled = was


@posts_cli.command("list")
def posts_list() -> None:
    """Show every essay with its state: published, scheduled, draft or expired."""
    library = get_library()
    snapshot = library.rescan()
    now = datetime.now(UTC)
    counts: dict[str, int] = {}
    for post in snapshot.every_post:
        state = post.state(now)
        counts[state] = counts.get(state, 0) + 1
        when = display_datetime(post.published_at, library.timezone)
        click.echo(f"{state:<10} {when}  {post.slug:<40} {post.title}")
    summary = ", ".join(f"{count} {state}" for state, count in sorted(counts.items()))
    click.echo(f"\n{summary or 'no essays'}; {len(snapshot.problems)} broken file(s).")
    for problem in snapshot.problems:
        click.echo(problem.message, err=True)


# --- flask subscribers ------------------------------------------------------------------------

# Each column's heading and format, written once for the heading and every row.
SUBSCRIBER_COLUMNS = (
    ("ID", ">6"),
    ("EMAIL", "<40"),
    ("STATUS", "<12"),
    ("SOURCE", "<7"),
    ("SINCE", "<10"),
    ("CONFIRMED", ""),
)


def table_row(columns: tuple[tuple[str, str], ...], values: list) -> str:
    """One line of a table: each value in its column's format, one space between columns."""
    cells = [format(value, spec) for (_, spec), value in zip(columns, values, strict=True)]
    return " ".join(cells).rstrip()


@subscribers_cli.command("list")
@click.option("--status", type=click.Choice(SubscriberStatus.ALL), help="Only this status.")
def subscribers_list(status: str | None) -> None:
    """Show subscribers as a table, then how many have each status."""
    timezone = get_library().timezone
    click.echo(table_row(SUBSCRIBER_COLUMNS, [name for name, _ in SUBSCRIBER_COLUMNS]))
    for s in roster.all_subscribers(status):
        confirmed = display_day(s.confirmed_at, timezone) if s.confirmed_at else "-"
        created = display_day(s.created_at, timezone)
        row = [s.id, s.email, s.status, s.source, created, confirmed]
        click.echo(table_row(SUBSCRIBER_COLUMNS, row))
    totals = roster.counts()
    click.echo(
        ", ".join(f"{name}: {n}" for name, n in totals.items()) + f"; total: {sum(totals.values())}"
    )


@subscribers_cli.command("add")
@click.argument("email")
@click.option("--confirmed", is_flag=True, help="Activate now instead of mailing a confirmation.")
def subscribers_add(email: str, confirmed: bool) -> None:
    """Add an address; without --confirmed it gets the confirmation email, like the form."""
    with _list_errors():
        if confirmed:
            done = roster.add_confirmed(email, source="cli")
            click.echo(f"{email}: {'already active' if done == 'active' else 'added, active'}.")
            return
        result = subscriptions.subscribe(email, source="cli")
    mailed = "confirmation email sent" if result.mailed else "no email sent (sent recently)"
    click.echo(f"{email}: {'already active' if result.outcome == 'active' else mailed}.")


@subscribers_cli.command("remove")
@click.argument("email")
def subscribers_remove(email: str) -> None:
    """Unsubscribe an address (kept as unsubscribed, so an import cannot add it back)."""
    _apply(roster.remove, email, "unsubscribed")


@subscribers_cli.command("forget")
@click.argument("email")
def subscribers_forget(email: str) -> None:
    """Erase an address and everything stored about it (a GDPR erasure request)."""
    _apply(roster.forget, email, "erased, with its consent record and delivery history")


def _apply(rule: Callable[[str], object], email: str, outcome: str) -> None:
    """Apply one roster rule to an address, then say what became of it."""
    with _list_errors():
        rule(email)
    click.echo(f"{email}: {outcome}.")


@subscribers_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--confirmed", is_flag=True, help="The addresses already opted in: activate them.")
def subscribers_import(file: Path, confirmed: bool) -> None:
    """Import a CSV export of Substack, Buttondown, Mailchimp, Ghost or listmonk."""
    with _list_errors():
        rows = transfer.read_export(file)
    results = []
    with click.progressbar(
        transfer.import_rows(rows, confirmed=confirmed),
        length=len(rows),
        label=f"Importing {len(rows)} rows",
        file=sys.stderr,
    ) as progress:
        results.extend(progress)
    for result in results:
        if result.action == "skipped":
            click.echo(
                f"line {result.line}: skipped {result.email or '(no address)'}: {result.reason}"
            )
    totals = Counter(result.action for result in results)
    click.echo(", ".join(f"{action}: {totals[action]}" for action in IMPORT_ACTIONS) + ".")


@subscribers_cli.command("export")
@click.argument("file", type=click.File("w", encoding="utf-8", lazy=True), default="-")
def subscribers_export(file) -> None:
    """Write every subscriber with every stored field as CSV, to FILE or standard output."""
    count = transfer.write_export(file)
    click.echo(f"Exported {count} subscribers.", err=True)


IMPORT_ACTIONS = ("added", "pending", "kept", "skipped")


@contextmanager
def _list_errors() -> Iterator[None]:
    """Turn a refused list operation into its message and exit status 1, not a traceback."""
    try:
        yield
    except (subscriptions.InvalidAddress, subscriptions.SubscriberError) as error:
        raise click.ClickException(str(error)) from None
