"""The subscription routes: the form, confirmation and unsubscribe. Thin: rules live in
subscribers.py."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Blueprint, Response, current_app, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError

from newsletter.content import library
from newsletter.content.library import current_posts
from newsletter.extensions import csrf, db, limiter
from newsletter.links import post_url
from newsletter.subscribers import subscriptions
from newsletter.subscribers.models import Subscriber
from newsletter.subscribers.tokens import InvalidToken
from newsletter.web.forms import SubscribeForm
from newsletter.web.security import is_same_origin_post

log = logging.getLogger(__name__)

bp = Blueprint("signup", __name__)

# RFC 8058: a mail client's one-click unsubscribe posts exactly this form field.
ONE_CLICK = ("List-Unsubscribe", "One-Click")


@bp.after_request
def keep_private(response: Response) -> Response:
    """Pages about one reader's address: never cached, never indexed (the form page aside)."""
    response.headers.setdefault("Cache-Control", "no-store")
    if request.endpoint != "signup.subscribe":
        response.headers.setdefault("X-Robots-Tag", "noindex")
    return response


# The encodings an HTML form posts; anything else (JSON...) is not for these endpoints.
FORM_TYPES = {"", "application/x-www-form-urlencoded", "multipart/form-data"}


@bp.before_request
def only_form_bodies():
    """Refuse JSON and other bodies with 415 before Flask-WTF would read them as form data."""
    if request.method == "POST" and request.mimetype not in FORM_TYPES:
        page = render_template("subscribe.html", form=SubscribeForm(formdata=None))
        return page, 415
    return None


@bp.app_errorhandler(OperationalError)
def database_unavailable(error: OperationalError):
    """A read-only or full database: say so (503) and log the cause; the transaction was
    rolled back, so nothing half-written is kept and the reader can retry later."""
    db.session.rollback()
    log.error("The database refused a write (%s); sign-ups wait until it is fixed.", error.orig)
    return render_template("signup/unavailable.html"), 503


def signup_rate_limit() -> str:
    """The per-IP limit on sign-up posts, read per request so tests and config can change it."""
    return current_app.config["SIGNUP_RATE_LIMIT"]


@bp.get("/subscribe")
def subscribe():
    """The sign-up page."""
    return render_template("subscribe.html", form=SubscribeForm())


@bp.post("/subscribe")
@limiter.limit(signup_rate_limit)
@csrf.exempt  # checked below: the forms on shared pages carry no per-reader token
def subscribe_post():
    """Take a sign-up; the answer is the same whether the address is new, pending or active."""
    if not is_same_origin_post(request, current_app.config["SITE_URL"]):
        csrf.protect()  # not our own page, as far as the browser says: demand the session token
    form = SubscribeForm(meta={"csrf": False})  # the origin or the token was checked just above
    if form.is_bot():
        return render_template("signup/check_inbox.html")  # look like success; record nothing
    if not form.validate_on_submit():
        return render_template("subscribe.html", form=form), 400
    # Only a row is recorded: the mail goes out from the background thread, so a slow mail
    # server never holds the page and a new address answers like a known one.
    subscriptions.subscribe(
        form.email.data,
        source="web",
        ip=request.remote_addr,
        user_agent=request.user_agent.string,
        queue=True,
    )
    return render_template("signup/check_inbox.html")


@bp.get("/confirm/<token>")
def confirm(token: str):
    """One button that confirms: mail scanners open links, so GET and HEAD change nothing."""
    return button_page(subscriptions.confirmable, token, "signup/confirm.html")


def button_page(find: Callable[[str], Subscriber | None], token: str, template: str):
    """The page a mailed link opens: whose link it is and one button, or why it does not work."""
    try:
        subscriber = find(token)
    except InvalidToken as error:
        return bad_link(error)
    return render_template(template, subscriber=subscriber, token=token)


@bp.post("/confirm/<token>")
def confirm_post(token: str):
    """Activate the subscriber named by a confirmation link, then welcome them."""
    try:
        subscriptions.confirm(token, ip=request.remote_addr, user_agent=request.user_agent.string)
    except InvalidToken as error:
        return bad_link(error)
    latest = next(iter(current_posts().published), None)
    latest_url = post_url(latest.slug) if latest else None
    latest = library.render(latest) if latest else None  # the welcome page shows its teaser
    return render_template("signup/welcome.html", latest=latest, latest_url=latest_url)


@bp.get("/unsubscribe/<token>")
def unsubscribe(token: str):
    """Ask before unsubscribing: mail scanners open links, so a GET never changes anything."""
    return button_page(subscriptions.unsubscriber, token, "signup/unsubscribe.html")


@bp.post("/unsubscribe/<token>")
@csrf.exempt  # the RFC 8058 post carries no cookie and no token; people's posts are checked below
def unsubscribe_post(token: str):
    """Unsubscribe: a mail client's one-click post, or the button on the page above."""
    one_click = request.form.get(ONE_CLICK[0]) == ONE_CLICK[1]
    if not one_click:
        csrf.protect()  # raises CSRFError, answered by csrf_failed below
    try:
        subscriptions.unsubscribe(token)
    except InvalidToken as error:
        if one_click:
            return Response(f"{error}\n", status=400, mimetype="text/plain")
        return bad_link(error)
    if one_click:
        # RFC 8058: answer 200 without redirect; this response sets no cookie.
        return Response("You are unsubscribed.\n", mimetype="text/plain")
    return render_template("signup/unsubscribed.html")


def bad_link(error: InvalidToken):
    """A clear 400 page for a link that expired or was altered, with the form to start again."""
    page = render_template("signup/bad_link.html", error=error, form=SubscribeForm(formdata=None))
    return page, 400


@bp.app_errorhandler(CSRFError)
def csrf_failed(error: CSRFError):
    """A form post without a valid token: usually a page open for too long, or cookies off."""
    return render_template("signup/csrf_failed.html", reason=error.description), 400


@bp.app_errorhandler(429)
def too_many_requests(error: Exception):
    """A person (or a bot) posting too often: a page, not a bare error."""
    return render_template("signup/too_many.html"), 429
