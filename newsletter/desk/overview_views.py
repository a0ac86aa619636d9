"""The desk's overview: readers by status, their growth, the latest sends, broken files."""

from __future__ import annotations

from flask import render_template

from newsletter.content.library import get_library
from newsletter.desk import chart, queries
from newsletter.subscribers import roster


def overview():
    """Counts by status, the growth chart with its table, the latest sends, broken posts."""
    series = queries.growth(queries.daily_changes())
    return render_template(
        "desk/overview.html",
        counts=roster.counts(),
        series=series,
        chart=chart.draw(series),
        sends=queries.latest_sends(),
        problems=get_library().rescan().problems,
    )
