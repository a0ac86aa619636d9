"""The desk's blueprint and what guards every page of it: sign-in, expiry, no caching, origin.

A page worker imports this module (Flask-Login and the admins' list), never the views behind it
(views.py registers them to be imported on first use)."""

from __future__ import annotations

import time

from flask import Blueprint, Flask, Response, current_app, redirect, request, session, url_for
from flask_login import LoginManager, current_user, login_user, logout_user

from newsletter.desk.admins import Admin, is_admin

bp = Blueprint(
    "desk", __name__, url_prefix="/desk", static_folder="static", static_url_path="/static"
)
login_manager = LoginManager()
# The only desk endpoints an unsigned visitor may reach.
OPEN_ENDPOINTS = frozenset(
    {
        "desk.sign_in",
        "desk.sign_in_post",
        "desk.sign_in_link",
        "desk.sign_in_link_post",
        "desk.passkey_sign_in_options",
        "desk.passkey_sign_in",
        "desk.static",
    }
)
SIGNED_IN_AT = "desk_signed_in_at"


@login_manager.user_loader
def load_admin(address: str) -> Admin | None:
    """The session's admin, while the address is still in ADMIN_EMAILS."""
    return Admin(address) if is_admin(address) else None


def init_app(app: Flask) -> None:
    """Flask-Login for the desk's sessions, and the blueprint itself."""
    # Flask-Login's app-wide template variable and remember-me hook would read the session on
    # every page, adding `Vary: Cookie` to public pages too: the desk's templates get
    # `current_user` from the blueprint instead, and it sets no remember-me cookie.
    login_manager.init_app(app, add_context_processor=False)
    login_manager.session_protection = "basic"
    app.after_request_funcs[None].remove(login_manager._update_remember_cookie)
    app.register_blueprint(bp)


def sign_in(admin: Admin) -> None:
    """Start a desk session, remembering when, so it can end after DESK_SESSION_HOURS."""
    session.clear()  # a new session, never one a visitor brought along (fixation)
    login_user(admin)
    session[SIGNED_IN_AT] = time.time()


def sign_out() -> None:
    """End the desk session."""
    logout_user()
    session.pop(SIGNED_IN_AT, None)


def session_expired() -> bool:
    """True once DESK_SESSION_HOURS have passed since signing in."""
    hours = float(current_app.config["DESK_SESSION_HOURS"])
    return time.time() - float(session.get(SIGNED_IN_AT, 0)) > hours * 3600


@bp.context_processor
def desk_user() -> dict:
    """`current_user` for the desk's templates only."""
    return {"current_user": current_user}


@bp.before_request
def guard():
    """Refuse cross-site posts; send anyone not signed in (or expired) to the sign-in page."""
    if request.method == "POST" and not same_origin():
        return Response("Refused: this form was posted from another site.\n", 403)
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    if current_user.is_authenticated and not session_expired():
        return None
    expired = current_user.is_authenticated
    sign_out()
    return redirect(url_for("desk.sign_in", expired=1 if expired else None), 303)


def same_origin() -> bool:
    """What the browser says of a post's origin (Sec-Fetch-Site, else Origin); a client that
    sends neither (not a browser) still needs the CSRF token every desk form carries."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site in ("same-origin", "none")
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    site = current_app.config["SITE_URL"].split("://", 1)[-1].split("/", 1)[0]
    return origin.rstrip("/") in {f"{s}://{site}" for s in ("http", "https")} | {
        request.host_url.rstrip("/")
    }


@bp.after_request
def never_stored(response: Response) -> Response:
    """No desk response is kept by a browser, a proxy or the public page cache."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    response.vary.add("Cookie")
    return response
