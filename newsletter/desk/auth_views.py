"""Signing in and out of the desk: the address form, the mailed link's button, sign-out."""

from __future__ import annotations

from flask import current_app, redirect, render_template, request, url_for
from flask_login import current_user

from newsletter.desk import signin
from newsletter.desk.blueprint import sign_in, sign_out
from newsletter.desk.forms import AddressForm, ButtonForm
from newsletter.extensions import limiter


def sign_in_rate_limit() -> str:
    """Requests for a link per client address, read per request so config can change it."""
    return current_app.config["DESK_SIGN_IN_RATE_LIMIT"]


def sign_in_page():
    """The sign-in page: an address for a mailed link, or a passkey."""
    if current_user.is_authenticated:
        return redirect(url_for("desk.overview"), 303)
    expired = request.args.get("expired") == "1"
    return render_template("desk/sign_in.html", form=AddressForm(), expired=expired)


@limiter.limit(sign_in_rate_limit)
def sign_in_post():
    """Mail a link to an admin address; the page says the same for any address."""
    form = AddressForm()
    if not form.validate_on_submit():
        return render_template("desk/sign_in.html", form=form, expired=False), 400
    signin.mail_link(form.email.data)
    return render_template("desk/check_inbox.html", email=form.email.data)


def sign_in_link(token: str):
    """A mailed link opens a button, never signs in by itself (mail scanners open links)."""
    try:
        signin.read_link(token)
    except signin.LinkRefused as error:
        return refused(error)
    return render_template("desk/sign_in_link.html", form=ButtonForm(), token=token)


def sign_in_link_post(token: str):
    """Spend the link and start the session."""
    if not ButtonForm().validate_on_submit():
        return refused(signin.LinkRefused("The form had expired. Open the link again."))
    try:
        admin = signin.spend_link(token)
    except signin.LinkRefused as error:
        return refused(error)
    sign_in(admin)
    return redirect(url_for("desk.overview"), 303)


def refused(error: signin.LinkRefused):
    """The sentence that says why a link did not sign in, with the form for a new one."""
    page = render_template("desk/sign_in.html", form=AddressForm(), refused=str(error))
    return page, 400


def sign_out_post():
    """End the session and show the sign-in page."""
    if ButtonForm().validate_on_submit():
        sign_out()
    return redirect(url_for("desk.sign_in"), 303)
