"""The author's `flask send` and `flask preview` commands. Thin: each calls mailing.py and
prints what it returns."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from flask.cli import with_appcontext

from newsletter.content.dates import display_datetime
from newsletter.content.library import get_library
from newsletter.sending import checks, mailing, queued


@click.command("send")
@click.argument("words", nargs=-1, metavar="SLUG | status [SLUG]")
@click.option("--new", "new", is_flag=True, help="Send every published essay never sent yet.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (for cron).")
@click.option("--test", "test_address", metavar="ADDRESS", help="Send one proof to ADDRESS.")
@click.option("--dry-run", is_flag=True, help="Show what would be sent; send nothing.")
@click.option(
    "--retry-uncertain", is_flag=True, help="Also resend messages a crash left uncertain."
)
@click.option("--detach", is_flag=True, help="With BROKER_URL: queue the send and return at once.")
@with_appcontext
def send_command(words, new, yes, test_address, dry_run, retry_uncertain, detach) -> None:
    """Send an essay to every confirmed subscriber, exactly once.

    \b
    flask send SLUG              send one essay (asks first; --yes skips)
    flask send SLUG --test ADDR  a proof to one address, touching no record
    flask send SLUG --dry-run    who would get it, sending nothing
    flask send --new             every published essay not sent yet (cron)
    flask send status [SLUG]     each essay's sends: sent, failed, uncertain, pending
    """
    try:
        if words[:1] == ("status",) and len(words) <= 2:
            show_status(words[1] if len(words) == 2 else None)
        elif new:
            if words or test_address:
                raise click.UsageError("Use --new alone, without a SLUG or --test.")
            send_new(yes=yes, dry_run=dry_run, detach=detach)
        elif len(words) != 1:
            raise click.UsageError("Give one essay SLUG, or --new, or 'status'.")
        elif test_address:
            show_test_sent(words[0], test_address, mailing.send_test(words[0], test_address))
        else:
            send_one(
                words[0], yes=yes, dry_run=dry_run, retry_uncertain=retry_uncertain, detach=detach
            )
    except mailing.SendError as error:
        raise click.ClickException(str(error)) from None


def show_test_sent(slug: str, address: str, outbox: Path | None) -> None:
    """Where the proof went: the SMTP server, or (without MAIL_SERVER) a file in the outbox."""
    if outbox is None:
        click.echo(f"Sent a test of '{slug}' to {address}. No record was changed.")
        return
    click.echo(
        f"MAIL_SERVER is not set, so the test of '{slug}' for {address} was not mailed: it was "
        f"written to the outbox as {outbox} (open it in a mail program). No record was changed."
    )


def send_one(
    slug: str, *, yes: bool, dry_run: bool, retry_uncertain: bool = False, detach: bool = False
) -> None:
    """Show the plan, ask, send with a progress bar (or queue it), and print the summary."""
    plan = mailing.plan_send(slug, retry_uncertain=retry_uncertain)
    show_plan(plan)
    facts = checks.send_facts(plan.post)
    for line in checks.send_warnings(facts, plan.post, plan.recipients):
        click.secho(line, fg="yellow")
    if not plan.recipients and not facts.already_sent:
        show_nobody_to_send(plan)
        return
    if dry_run:
        click.echo("Dry run: nothing was sent.")
        return
    if plan.recipients and not yes:
        older = " anyway" if facts.newer_sent else ""
        click.confirm(f"Send '{plan.post.title}' to {plan.recipients} readers{older}?", abort=True)
    if queued.uses_queue():
        report = run_queued(slug, plan.recipients, retry_uncertain, detach)
        if report is None:
            return
    else:
        report = run_send(slug, plan.recipients, retry_uncertain)
    show_report(report)
    if report.error:
        raise SystemExit(1)
    if report.stopped:
        raise SystemExit(130)


def show_nobody_to_send(plan: mailing.SendPlan) -> None:
    """A first send that would reach nobody: say so; the essay is not marked as sent."""
    click.echo(
        f"No active reader would get '{plan.post.title}': nothing was sent, and the essay is "
        "not marked as sent, so `flask send --new` offers it again once readers confirm."
    )


def send_new(*, yes: bool, dry_run: bool, detach: bool = False) -> None:
    """Send each published essay never sent yet, oldest first (the weekly cron job), while no
    other `flask send --new` runs on any machine."""
    with queued.only_one_new_send() as alone:
        if not alone:
            click.echo("Another 'flask send --new' is running (here or on another server).")
            return
        plan_and_send_new(yes=yes, dry_run=dry_run, detach=detach)


def plan_and_send_new(*, yes: bool, dry_run: bool, detach: bool) -> None:
    """The plan of `--new`, a question, and one send per essay."""
    plan = mailing.plan_new()
    if queued.uses_queue():
        plan = queued.without_running(plan)
    if plan.skip:
        marked = "would be marked" if dry_run else "are marked"
        click.echo(
            f"{len(plan.skip)} older essays that were never sent {marked} as back catalogue "
            "and will not be mailed; `flask send SLUG` still sends one on purpose."
        )
    if not plan.send:
        click.echo("No new essay to send.")
    if dry_run:
        for post in plan.send:
            show_plan(mailing.plan_send(post.slug))
        click.echo("Dry run: nothing was sent or recorded.")
        return
    titles = ", ".join(f"'{post.title}'" for post in plan.send)
    if plan.send and not yes:
        click.confirm(f"Send {titles}?", abort=True)
    mailing.mark_skipped(plan.skip)
    for post in plan.send:
        send_one(post.slug, yes=True, dry_run=False, detach=detach)


def show_plan(plan: mailing.SendPlan) -> None:
    """The essay's title, date, recipients, and anything worth a second look."""
    post = plan.post
    click.echo(f"Essay:      {post.title} ({post.slug})")
    click.echo(f"Published:  {display_datetime(post.published_at, get_library().timezone)}")
    click.echo(f"Recipients: {plan.recipients}")
    if plan.uncertain:
        click.echo(
            f"Uncertain:  {plan.uncertain} (a crash left them in flight; they are not resent "
            "unless you add --retry-uncertain)"
        )
    for warning in plan.warnings:
        click.secho(f"Warning: {warning}", fg="yellow", err=True)


def run_send(slug: str, total: int, retry_uncertain: bool):
    """Send under a progress bar (count, rate, ETA); Ctrl-C stops after the current message."""
    started = time.monotonic()
    done = 0
    with stop_on_interrupt() as stop, click.progressbar(
        length=total, label="Sending", show_pos=True, show_eta=True,
        item_show_func=lambda rate: rate or "",
    ) as bar:  # fmt: skip

        def step() -> None:
            nonlocal done
            done += 1
            bar.update(1, f"{done / max(time.monotonic() - started, 1e-6):.0f} msg/s")

        return mailing.send_essay(slug, retry_uncertain=retry_uncertain, stop=stop, progress=step)


def run_queued(slug: str, total: int, retry_uncertain: bool, detach: bool):
    """Queue the send for the workers, then follow it from the ledger (None: not followed)."""
    state = queued.start(slug, retry_uncertain=retry_uncertain)
    click.echo(f"Queued {state.batches_left} batches for the workers (run {state.run_id}).")
    if detach:
        click.echo(f"Detached: 'flask send status {slug}' shows how far the workers are.")
        return None
    click.echo("Following the workers ('flask worker' on any machine); Ctrl-C stops following.")
    with stop_on_interrupt(FOLLOW_STOP_MESSAGE) as stop, click.progressbar(
        length=total, label="Sending", show_pos=True, show_eta=True
    ) as bar:  # fmt: skip
        final = queued.follow(state, lambda settled: bar.update(max(0, settled - bar.pos)), stop)
    if final is None:
        click.echo(f"The workers go on: 'flask send status {slug}' shows how far they are.")
        raise SystemExit(130)
    return queued.report(final)


STOP_MESSAGE = "\nStopping after the current message (Ctrl-C again to stop now)..."
FOLLOW_STOP_MESSAGE = "\nNo longer following the send..."


@contextmanager
def stop_on_interrupt(message: str = STOP_MESSAGE) -> Iterator[threading.Event]:
    """Turn the first Ctrl-C (or SIGTERM) into a request to stop after the current message."""
    stop = threading.Event()

    def request_stop(signum, _frame) -> None:
        if stop.is_set():
            raise KeyboardInterrupt  # a second Ctrl-C stops at once; rows stay uncertain
        stop.set()
        click.echo(message, err=True)

    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def show_report(report) -> None:
    """The end-of-send summary, with the reasons for failures."""
    click.echo(
        f"Sent {report.sent}, failed {report.failed}, skipped {report.skipped}, "
        f"uncertain {report.uncertain}."
    )
    for address, reason in report.failures[:20]:
        click.echo(f"  {address}: {reason}")
    if len(report.failures) > 20:
        click.echo(f"  ... and {len(report.failures) - 20} more: flask send status {report.slug}")
    if report.uncertain:
        click.echo(
            f"Uncertain messages may or may not have arrived; 'flask send status {report.slug}' "
            "lists them, and --retry-uncertain sends them again."
        )
    if report.in_flight:
        click.echo(
            f"{report.in_flight} more are in flight in another send of this essay that is "
            "still running; 'flask send status' shows them once it ends."
        )
    if report.stopped:
        click.echo(f"Stopped. Run 'flask send {report.slug}' again to continue where it stopped.")
    if report.error:
        click.secho(f"Error: {report.error}", fg="red", err=True)


def show_status(slug: str | None) -> None:
    """Each essay's sends; with a SLUG, also the failed and uncertain addresses."""
    for line in mailing.essay_statuses(slug):
        click.echo(
            f"{line.slug}: {line.mailing}; sent {line.sent}, failed {line.failed}, "
            f"uncertain {line.uncertain}, pending {line.pending}"
        )
    if slug:
        for address, status, attempts, error in mailing.problem_rows(slug):
            label = "uncertain" if status == "sending" else status
            click.echo(f"  {label}: {address} ({attempts} attempts) {error or ''}".rstrip())


@click.command("preview")
@click.argument("slug")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path), help="Folder.")
@with_appcontext
def preview_command(slug: str, output: Path | None) -> None:
    """Write an essay's email as readers will get it (.eml and .html) to open and check."""
    try:
        eml, html = mailing.write_preview(slug, output)
    except mailing.SendError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Wrote {eml} and {html}.")
