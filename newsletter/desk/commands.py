"""`flask desk link`: a sign-in link for the desk, printed, for the day mail does not work.

Registered by app.py as a lazy command like the others (the layout keeps cli/ and desk/ side
by side on top, so neither imports the other): a web worker never imports it."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from newsletter.desk import signin
from newsletter.desk.admins import admin_emails

desk_cli = AppGroup("desk", help="The author's web desk at /desk/.")


@desk_cli.command("link")
@click.option("--email", "address", metavar="ADDRESS", help="Which of ADMIN_EMAILS signs in.")
def desk_link(address: str | None) -> None:
    """Print a one-time sign-in link (the URL alone on one line); it works for 15 minutes."""
    admins = admin_emails()
    if address is None and len(admins) > 1:
        raise click.UsageError(f"ADMIN_EMAILS has {len(admins)} addresses: add --email ADDRESS.")
    try:
        click.echo(signin.new_link(address or admins[0]))
    except signin.LinkRefused as error:
        raise click.ClickException(str(error)) from None
