"""The welcome email on the desk: whether it is on, a preview of both parts, a test send."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, url_for
from flask_login import current_user

from newsletter.desk.essay_views import PREVIEW_POLICY
from newsletter.desk.forms import ButtonForm
from newsletter.mail.messages import MailNotSent
from newsletter.subscribers import welcome as welcome_mail

SAMPLE_ADDRESS = "reader@example.org"


def _render(part: str) -> str:
    context = welcome_mail.welcome_context(0, SAMPLE_ADDRESS)
    return render_template(f"email/welcome.{part}", **context)


def welcome():
    """The welcome email as a new reader gets it, and whether it is sent."""
    return render_template(
        "desk/welcome.html",
        subject=welcome_mail.welcome_subject(),
        text=_render("txt"),
        form=ButtonForm(),
    )


def welcome_email():
    """The HTML part alone, for the sandboxed preview frame."""
    response = Response(_render("html"), mimetype="text/html")
    response.headers["Content-Security-Policy"] = PREVIEW_POLICY
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


def welcome_test():
    """Mail the welcome email to the signed-in author."""
    try:
        welcome_mail.send_welcome(0, current_user.email)
    except MailNotSent as error:
        flash(f"The test message was not sent: {error}")
    else:
        flash(f"A test of the welcome email was sent to {current_user.email}.")
    return redirect(url_for("desk.welcome"), 303)
