"""The author's `flask` commands. Thin: each calls one domain function and prints its result."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from newsletter.cli import send, worker
from newsletter.content.dates import display_datetime
from newsletter.content.library import get_library
from newsletter.content.markdown_check import post_warnings
from newsletter.subscribers import roster, subscriptions, transfer
from newsletter.subscribers.models import SubscriberStatus

posts_cli = AppGroup("posts", help="Check and list the essays in POSTS_DIR.")
subscribers_cli = AppGroup("subscribers", help="Manage the subscriber list.")


def init_app(app: Flask) -> None:
    """Register the command groups."""
    app.cli.add_command(posts_cli)
    app.cli.add_command(subscribers_cli)
    app.cli.add_command(send.send_command)
    app.cli.add_command(send.preview_command)
    app.cli.add_command(worker.worker_command)


# --- flask posts ------------------------------------------------------------------------------


@posts_cli.command("check")
def posts_check() -> None:
    """List every problem in every post file; exit non-zero if there is any."""
    snapshot = get_library().rescan()
    for problem in snapshot.problems:
        click.echo(problem.message, err=True)
    for warning in post_warnings(snapshot.every_post):
        click.echo(f"Warning: {warning}", err=True)
    if snapshot.problems:
        raise SystemExit(1)
    click.echo(f"All {len(snapshot.every_post)} post files are fine.")


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


@subscribers_cli.command("list")
@click.option("--status", type=click.Choice(SubscriberStatus.ALL), help="Only this status.")
def subscribers_list(status: str | None) -> None:
    """Show subscribers as a table, then how many have each status."""
    click.echo(f"{'ID':>6}  {'EMAIL':<40} {'STATUS':<12} {'SOURCE':<7} {'SINCE':<10} CONFIRMED")
    for s in roster.all_subscribers(status):
        confirmed = s.confirmed_at.date().isoformat() if s.confirmed_at else "-"
        created = s.created_at.date().isoformat()
        click.echo(
            f"{s.id:>6}  {s.email:<40} {s.status:<12} {s.source:<7} {created:<10} {confirmed}"
        )
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
    with _list_errors():
        roster.remove(email)
    click.echo(f"{email}: unsubscribed.")


@subscribers_cli.command("forget")
@click.argument("email")
def subscribers_forget(email: str) -> None:
    """Erase an address and everything stored about it (a GDPR erasure request)."""
    with _list_errors():
        roster.forget(email)
    click.echo(f"{email}: erased, with its consent record and delivery history.")


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
