"""The sign-up views that touch the list: taking a sign-up, confirming, leaving. Thin: the rules
live in subscribers/subscriptions.py. Loaded by the first request that reaches one of them
(web/signup.py lists their URLs), and with them SQLAlchemy; a database that refuses is
answered with a 503 page by newsletter/lazyview.py.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Response, current_app, render_template, request

from newsletter.content import library
from newsletter.content.library import current_posts
from newsletter.extensions import csrf, limiter
from newsletter.links import post_url
from newsletter.subscribers import subscriptions
from newsletter.subscribers.models import Subscriber
from newsletter.subscribers.tokens import InvalidToken
from newsletter.web.forms import SubscribeForm
from newsletter.web.security import is_same_origin_post
from newsletter.web.signup import ONE_CLICK, signup_rate_limit


@limiter.limit(signup_rate_limit)
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


def unsubscribe(token: str):
    """Ask before unsubscribing: mail scanners open links, so a GET never changes anything."""
    return button_page(subscriptions.unsubscriber, token, "signup/unsubscribe.html")


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
