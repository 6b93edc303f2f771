"""Server-rendered SVG charts: one definition of axes, ticks, scales and text alternatives.

Every chart of the console is built here as a view model (geometry in SVG user units plus
localized labels) and drawn by one template, `console/_chart.html`. The SVG is scaled to its
card's width, so its units are chosen near the card's pixel width: text set at 13 units reads
at about 11–13 px at 100 % zoom. Values show on hover (`<title>`) and on keyboard focus
(bars and columns are focusable and reveal their value label), and every chart carries a
summary sentence (its accessible name) and a data table in a `<details>`.
"""

from .axes import (
    WIDTH,
    date_label,
    day_label,
    moment_label,
    nice_ticks,
    number,
    time_ticks,
)
from .build import Chart, bar_chart, column_chart, line_chart

__all__ = [
    "WIDTH",
    "Chart",
    "bar_chart",
    "column_chart",
    "date_label",
    "day_label",
    "line_chart",
    "moment_label",
    "nice_ticks",
    "number",
    "time_ticks",
]
