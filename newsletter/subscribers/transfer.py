"""Moving a list in and out: CSV exports of other services in, every stored field out."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO

from newsletter.extensions import db
from newsletter.subscribers.models import Subscriber
from newsletter.subscribers.roster import add_confirmed, all_subscribers
from newsletter.subscribers.subscriptions import (
    LEFT,
    InvalidAddress,
    SubscriberError,
    find,
    normalise_address,
    subscribe,
)

# Header names of the address column, compared lower-cased with "_" and "-" read as spaces:
# Substack, Ghost, listmonk and Buttondown say "email" (newer Buttondown "email_address"),
# Mailchimp says "Email Address".
EMAIL_HEADERS = ("email", "email address", "e mail", "e mail address", "emailaddress")
# Columns that say the reader had already left the old service; those rows are not imported.
OPTED_OUT = {
    "status": {"unsubscribed", "blocklisted", "bounced", "cleaned"},  # listmonk, our own export
    "subscribed to emails": {"false", "0", "no"},  # Ghost
    "email disabled": {"true", "1", "yes"},  # Substack
}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run these as formulas
COMMIT_EVERY = 500


@dataclass(frozen=True)
class ImportRow:
    """One data row of an export: its line in the file and its cells by plain header name."""

    line: int
    cells: dict[str, str]


@dataclass(frozen=True)
class ImportResult:
    """What happened to one row: "added", "pending" (mail sent), "kept" or "skipped"."""

    line: int
    email: str
    action: str
    reason: str = ""


def _plain(header: str) -> str:
    return " ".join(header.replace("_", " ").replace("-", " ").lower().split())


def read_export(path: Path) -> list[ImportRow]:
    """The rows of a CSV export, or an error naming what is missing from the file."""
    with open(path, newline="", encoding="utf-8-sig") as file:  # Excel and Mailchimp add a BOM
        reader = csv.DictReader(file)
        headers = {_plain(name): name for name in reader.fieldnames or ()}
        if not any(name in headers for name in EMAIL_HEADERS):
            raise SubscriberError(
                f"{path} has no email column (looked for a header named 'email' or "
                f"'Email Address'; found: {', '.join(headers.values()) or 'no header'})."
            )
        rows = []
        for cells in reader:
            plain = {_plain(k): (v or "").strip() for k, v in cells.items() if k is not None}
            rows.append(ImportRow(reader.line_num, plain))
    return rows


def import_rows(rows: Iterable[ImportRow], *, confirmed: bool) -> Iterator[ImportResult]:
    """Add each row's address (active if `confirmed`, else mailed to confirm); yield outcomes."""
    for count, row in enumerate(rows, start=1):
        yield import_row(row, confirmed=confirmed)
        if count % COMMIT_EVERY == 0:
            db.session.expunge_all()  # a long import must not keep every row in memory


def import_row(row: ImportRow, *, confirmed: bool) -> ImportResult:
    """Import one row; a bad or opted-out row is skipped with a reason, never fatal."""
    address = next((row.cells[name] for name in EMAIL_HEADERS if row.cells.get(name)), "")
    address = _unescape(address)
    left = [
        f"{k}={row.cells[k]}" for k, v in OPTED_OUT.items() if row.cells.get(k, "").lower() in v
    ]
    if left:
        return ImportResult(row.line, address, "skipped", f"left the old list ({left[0]})")
    try:
        existing = find(normalise_address(address))
        if existing is not None and existing.status in LEFT:
            return ImportResult(
                row.line,
                address,
                "skipped",
                f"{existing.email} is {existing.status}; an import never adds it back",
            )
        if confirmed:
            action = "kept" if add_confirmed(address, source="import") == "active" else "added"
        else:
            result = subscribe(address, source="import")
            action = "pending" if result.outcome != "active" else "kept"
    except (InvalidAddress, SubscriberError) as error:
        return ImportResult(row.line, address, "skipped", str(error))
    except OSError as error:  # the mail server refused or is down; the next import retries it
        return ImportResult(row.line, address, "skipped", f"confirmation mail failed: {error}")
    return ImportResult(row.line, address, action)


def export_columns() -> list[str]:
    """Every stored field of a subscriber, in table order."""
    return [column.name for column in Subscriber.__table__.columns]


def write_export(file: TextIO) -> int:
    """Write every subscriber with every stored field as CSV; return how many."""
    columns = export_columns()
    writer = csv.writer(file)
    writer.writerow(columns)
    count = 0
    for subscriber in all_subscribers():
        writer.writerow([_cell(getattr(subscriber, name)) for name in columns])
        count += 1
    return count


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text: ISO times, and no formula from a user agent."""
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _unescape(text: str) -> str:
    """Undo `_cell`'s guard, so our own export imports back unchanged."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text
