"""The desk's readers: the list, add, remove, forget, import a CSV upload, export."""

from __future__ import annotations

import io
import tempfile
from collections import Counter
from pathlib import Path

from flask import Response, current_app, flash, redirect, render_template, request, url_for

from newsletter.desk import readers as reader_pages
from newsletter.desk.forms import AddReaderForm, ConfirmForm, ImportForm
from newsletter.subscribers import roster, subscriptions, transfer
from newsletter.subscribers.models import SubscriberStatus

LIST_ERRORS = (subscriptions.InvalidAddress, subscriptions.SubscriberError)


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() else None


def readers():
    """Search, filter by status, and page through the readers, newest first."""
    status = request.args.get("status") or None
    query = (request.args.get("q") or "").strip()[:254] or None
    found = reader_pages.page(
        status=status,
        query=query,
        after=_int_arg("after"),
        before=_int_arg("before"),
        last=request.args.get("page") == "last",
        size=int(current_app.config["DESK_PAGE_SIZE"]),
    )
    return render_template(
        "desk/readers.html", page=found, status=status, query=query,
        statuses=SubscriberStatus.ALL,
        add_form=AddReaderForm(formdata=None), import_form=ImportForm(formdata=None),
    )  # fmt: skip


def reader_add():
    """Add one reader: active at once, or mailed a confirmation like the form does."""
    form = AddReaderForm()
    if not form.validate_on_submit():
        flash("Enter the address to add.")
        return redirect(url_for("desk.readers"), 303)
    try:
        flash(f"{form.email.data}: {add_reader(form.email.data, confirmed=form.confirmed.data)}.")
    except LIST_ERRORS as error:
        flash(str(error))
    return redirect(url_for("desk.readers"), 303)


def add_reader(email: str, *, confirmed: bool) -> str:
    """Add an address as the CLI does; say what happened."""
    if confirmed:
        done = roster.add_confirmed(email, source="desk")
        return "already active" if done == "active" else "added, active"
    result = subscriptions.subscribe(email, source="desk", queue=True)
    return "already active" if result.outcome == "active" else "confirmation mail on its way"


def reader_remove():
    """Unsubscribe a reader, after a page that names them."""
    return _confirmed_action("remove", roster.remove, "{email}: unsubscribed.")


def reader_forget():
    """Erase a reader and everything stored about them (GDPR), after a confirmation."""
    return _confirmed_action(
        "forget", roster.forget, "{email}: erased, with its consent record and delivery history."
    )


def _confirmed_action(action: str, do, done: str):
    """GET shows the confirmation naming the address; POST does it."""
    email = (request.values.get("email") or "").strip()
    form = ConfirmForm(expected=email)
    if request.method == "GET":
        return render_template("desk/reader_confirm.html", action=action, email=email, form=form)
    if form.validate_on_submit():
        try:
            do(form.expected.data)
            flash(done.format(email=form.expected.data))
        except LIST_ERRORS as error:
            flash(str(error))
    return redirect(url_for("desk.readers"), 303)


def reader_import():
    """Import an uploaded CSV export: the CLI's dialects and its per-row report.

    Exempt from the app-wide CSRF check (views.CSRF_EXEMPT): ImportForm checks the token once
    the body limit is raised."""
    request.max_content_length = int(current_app.config["DESK_IMPORT_MAX_BYTES"])
    form = ImportForm()
    if not form.validate_on_submit():
        flash("Nothing was imported: choose a CSV file and press Import again.")
        return redirect(url_for("desk.readers"), 303)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "upload.csv"
        form.file.data.save(path)
        try:
            rows = transfer.read_export(path)
        except (subscriptions.SubscriberError, UnicodeDecodeError) as error:
            flash(f"The file could not be read: {error}")
            return redirect(url_for("desk.readers"), 303)
    results = list(transfer.import_rows(rows, confirmed=bool(form.confirmed.data)))
    totals = Counter(result.action for result in results)
    return render_template("desk/import_report.html", results=results, totals=totals)


def reader_export():
    """Every reader with every stored field, as the CLI's export writes it."""
    buffer = io.StringIO()
    transfer.write_export(buffer)
    response = Response(buffer.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="readers.csv"'
    return response
