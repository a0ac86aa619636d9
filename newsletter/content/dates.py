"""How dates are shown to people: one formatter, in the site's `TIMEZONE`, for every reader.

An essay dated 2022-02-01T23:30:00-05:00 is 2 February in UTC; the page, the feeds, the email
and `flask posts list` must all say the same day, so none of them formats a date by itself.
"""

from __future__ import annotations

from datetime import datetime, tzinfo


def local_time(moment: datetime, timezone: tzinfo) -> datetime:
    """The moment on the site's clock."""
    return moment.astimezone(timezone)


def display_date(moment: datetime, timezone: tzinfo) -> str:
    """A date as readers write it: 2 February 2022."""
    local = local_time(moment, timezone)
    return f"{local.day} {local:%B %Y}"


def display_datetime(moment: datetime, timezone: tzinfo) -> str:
    """A date and time for the author's listings: 2022-02-02 04:30."""
    return f"{local_time(moment, timezone):%Y-%m-%d %H:%M}"


def display_day(moment: datetime, timezone: tzinfo) -> str:
    """A day for the author's tables: 2022-02-02."""
    return f"{local_time(moment, timezone):%Y-%m-%d}"
