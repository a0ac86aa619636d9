"""The growth chart, drawn on the server as SVG: a line of active readers over time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

WIDTH, HEIGHT = 600, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 16, 32


@dataclass(frozen=True)
class Chart:
    """What the template draws: the polyline's points and the axis labels."""

    points: str
    y_max: int
    first: str
    last: str
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    bottom: int = HEIGHT - BOTTOM
    right: int = WIDTH - RIGHT
    top: int = TOP


def nice_max(value: int) -> int:
    """A round top for the y axis at or above `value` (1, 2, 5 times a power of ten)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def draw(series: list[tuple[date, int]]) -> Chart | None:
    """Scale a (day, count) series into the chart's box; None when there is nothing to draw."""
    if not series:
        return None
    y_max = nice_max(max(max(count for _, count in series), 1))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    steps = max(len(series) - 1, 1)
    points = " ".join(
        f"{LEFT + plot_w * i / steps:.1f},{TOP + plot_h * (1 - count / y_max):.1f}"
        for i, (_, count) in enumerate(series)
    )
    return Chart(points, y_max, series[0][0].isoformat(), series[-1][0].isoformat())
