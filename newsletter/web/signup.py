"""The subscription routes: the form page here, and every URL that touches the list, whose view
(web/signup_views.py) is imported by the first request that reaches it, so that a worker serving
only pages and feeds never loads SQLAlchemy (tests/test_page_worker.py)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template, request
from flask_wtf.csrf import CSRFError

from newsletter.lazyview import add_lazy_rules
from newsletter.web.forms import SubscribeForm

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


def signup_rate_limit() -> str:
    """The per-IP limit on sign-up posts, read per request so tests and config can change it."""
    return current_app.config["SIGNUP_RATE_LIMIT"]


@bp.get("/subscribe")
def subscribe():
    """The sign-up page."""
    return render_template("subscribe.html", form=SubscribeForm())


# endpoint: (methods, rule, function in web/signup_views.py), each imported on first use
ROUTES = {
    "subscribe_post": ("POST", "/subscribe", "subscribe_post"),
    "confirm": ("GET", "/confirm/<token>", "confirm"),
    "confirm_post": ("POST", "/confirm/<token>", "confirm_post"),
    "unsubscribe": ("GET", "/unsubscribe/<token>", "unsubscribe"),
    "unsubscribe_post": ("POST", "/unsubscribe/<token>", "unsubscribe_post"),
}
# Checked by the views themselves, and declared here since Flask-WTF's app-wide check runs
# before a lazy view is imported: the sign-up forms on shared pages carry no per-reader token
# (the origin is checked instead), and an RFC 8058 one-click post carries no cookie and no token.
CSRF_EXEMPT = ("subscribe_post", "unsubscribe_post")


add_lazy_rules(bp, ROUTES, "newsletter.web.signup_views", CSRF_EXEMPT)


@bp.app_errorhandler(CSRFError)
def csrf_failed(error: CSRFError):
    """A form post without a valid token: usually a page open for too long, or cookies off."""
    return render_template("signup/csrf_failed.html", reason=error.description), 400


@bp.app_errorhandler(429)
def too_many_requests(error: Exception):
    """A person (or a bot) posting too often: a page, not a bare error."""
    return render_template("signup/too_many.html"), 429
