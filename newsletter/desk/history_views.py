"""An essay's send history: the ledger's figures and problem rows, and every row as CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from flask import Response, abort, render_template, stream_with_context

from newsletter.desk import essays, queries

HISTORY_COLUMNS = ("email", "status", "attempts", "sent_at", "updated_at", "reply", "bounced_at")


def history(slug: str):
    """Started, finished, sent, failed with the servers' replies, bounced, uncertain."""
    row = queries.mailing_for(slug)
    if row is None and essays.find(slug) is None:
        abort(404)
    summary = queries.send_summary(row) if row else None
    problems = _mailing().problem_rows(slug) if row else []
    return render_template("desk/history.html", slug=slug, summary=summary, problems=problems)


def history_csv(slug: str):
    """Every ledger row of the essay, as a spreadsheet opens it."""
    if queries.mailing_for(slug) is None:
        abort(404)
    response = Response(stream_with_context(csv_lines(slug)), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{slug}-sends.csv"'
    return response


def csv_lines(slug: str) -> Iterator[str]:
    """The CSV, a line at a time (cells that look like formulas are quoted as text)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HISTORY_COLUMNS)
    for row in queries.ledger_rows(slug):
        status = "uncertain" if row.status == "sending" else row.status
        cells = [row.email, status, row.attempts, row.sent_at, row.updated_at, row.last_error,
                 row.bounced_at]  # fmt: skip
        writer.writerow([as_text(cell) for cell in cells])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def as_text(value: object) -> str:
    """A cell: ISO times, nothing a spreadsheet would run as a formula."""
    if value is None:
        return ""
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return "'" + text if text.startswith(("=", "+", "-", "@", "\t", "\r")) else text


def _mailing():
    """The sending stack, imported when the author acts, so a page worker never loads it."""
    from newsletter.sending import mailing

    return mailing
