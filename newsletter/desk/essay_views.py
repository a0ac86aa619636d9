"""The desk's essays: the list, one essay's preview and send page, test send, the send."""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from newsletter.desk import essays, queries, sends
from newsletter.desk.forms import ButtonForm, ConfirmForm

# The email's own page inside the sandboxed frame: its inline styles and images, no script,
# and only the desk itself may frame it.
PREVIEW_POLICY = (
    "default-src 'none'; img-src https: data:; style-src 'unsafe-inline'; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
)
REFRESH_SECONDS = 2


def post_or_404(slug: str):
    post = essays.find(slug)
    if post is None:
        abort(404)
    return post


def essays_list():
    """Every post file with its state and its send's state; broken files with reasons."""
    rows, problems = essays.essays()
    return render_template("desk/essays.html", rows=rows, problems=problems)


def essay(slug: str):
    """One essay: its email at phone and desktop widths, test send, send and its progress."""
    post = post_or_404(slug)
    progress = sends.progress(slug)
    return render_template(
        "desk/essay.html",
        post=post,
        published=essays.is_published(post),
        mailing_row=queries.mailing_for(slug),
        preview=essays.preview(post),
        progress=progress,
        output=sends.last_output(slug),
        form=ButtonForm(),
        refresh_seconds=REFRESH_SECONDS if progress.running else None,
    )


def essay_email(slug: str):
    """The HTML part alone, for the sandboxed preview frame."""
    response = Response(essays.preview(post_or_404(slug)).html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = PREVIEW_POLICY
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


def essay_test(slug: str):
    """Mail one proof, marked [TEST], to the signed-in author; no record changes."""
    post_or_404(slug)
    try:
        _mailing().send_test(slug, current_user.email)
    except _mailing().SendError as error:
        flash(str(error))
    else:
        flash(f"A test of this essay was sent to {current_user.email}.")
    return redirect(url_for("desk.essay", slug=slug), 303)


def essay_send_confirm(slug: str):
    """The confirmation: the title and the number of readers, then one button."""
    post_or_404(slug)
    try:
        plan = _mailing().plan_send(slug)
    except _mailing().SendError as error:
        flash(str(error))
        return redirect(url_for("desk.essay", slug=slug), 303)
    form = ConfirmForm(expected=str(plan.recipients))
    return render_template("desk/send_confirm.html", plan=plan, form=form)


def essay_send(slug: str):
    """Start the send in the background, if the count is still the one confirmed."""
    post_or_404(slug)
    form = ConfirmForm()
    try:
        plan = _mailing().plan_send(slug)
    except _mailing().SendError as error:
        flash(str(error))
        return redirect(url_for("desk.essay", slug=slug), 303)
    if not form.validate_on_submit() or form.expected.data != str(plan.recipients):
        flash(f"The number of readers changed to {plan.recipients}; check it and confirm again.")
        return render_template("desk/send_confirm.html", plan=plan, form=ConfirmForm(
            formdata=None, expected=str(plan.recipients))), 409  # fmt: skip
    start(slug, retry_uncertain=False)
    return redirect(url_for("desk.essay", slug=slug), 303)


def essay_resume(slug: str):
    """Continue a send that stopped: readers who have no message yet get one."""
    post_or_404(slug)
    start(slug, retry_uncertain=request.form.get("retry_uncertain") == "1")
    return redirect(url_for("desk.essay", slug=slug), 303)


def start(slug: str, *, retry_uncertain: bool) -> None:
    """Start the background send and say so."""
    if sends.start(slug, retry_uncertain=retry_uncertain):
        flash("The send has started; this page follows its progress.")
    else:
        flash("A send of this essay is already running.")


def _mailing():
    """The sending stack, imported when the author acts, so a page worker never loads it."""
    from newsletter.sending import mailing

    return mailing
