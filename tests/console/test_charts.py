"""The chart module: ticks, time scaling, the threshold line, values and text alternatives."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.template.loader import render_to_string
from django.utils import translation

from mqlapp.console import charts

TOKYO = ZoneInfo("Asia/Tokyo")


def test_nice_ticks_are_round_and_cover_the_range():
    assert charts.nice_ticks(0, 137) == [0, 50, 100, 150]
    assert charts.nice_ticks(0, 137, count=8) == [0, 20, 40, 60, 80, 100, 120, 140]
    assert charts.nice_ticks(-12, 48) == [-20, 0, 20, 40, 60]
    assert charts.nice_ticks(0, 4) == [0, 1, 2, 3, 4]
    assert charts.nice_ticks(5, 5) == [5, 5.2, 5.4, 5.6, 5.8, 6]


def test_time_ticks_fall_on_local_mondays_and_speak_the_language():
    start = datetime(2026, 9, 1, 10, tzinfo=TOKYO)  # a Tuesday
    end = datetime(2026, 10, 20, 10, tzinfo=TOKYO)
    with translation.override("en"):
        ticks = charts.time_ticks(start, end)
    assert [t.weekday() for t, _l in ticks] == [0] * len(ticks)
    assert all((t.hour, t.minute) == (0, 0) for t, _l in ticks)
    assert ticks[0][0] == datetime(2026, 9, 7, tzinfo=TOKYO)
    assert [label for _t, label in ticks] == ["Sep 7", "Sep 21", "Oct 5", "Oct 19"]
    with translation.override("ja"):
        assert [label for _t, label in charts.time_ticks(start, end)] == [
            "9/7",
            "9/21",
            "10/5",
            "10/19",
        ]


def test_time_ticks_use_months_over_a_long_span():
    start = datetime(2026, 1, 15, tzinfo=TOKYO)
    end = datetime(2026, 12, 20, tzinfo=TOKYO)
    with translation.override("ja"):
        labels = [label for _t, label in charts.time_ticks(start, end)]
    assert labels == ["2026年3月", "2026年5月", "2026年7月", "2026年9月", "2026年11月"]


def test_a_line_chart_is_scaled_by_time_not_by_index():
    t0 = datetime(2026, 11, 1, tzinfo=TOKYO)
    points = [
        (t0, 0.0, True),
        (t0 + timedelta(days=1), 50.0, True),  # one day in
        (t0 + timedelta(days=10), 100.0, True),  # the end, ten days in
    ]
    chart = charts.line_chart(points, title="Score", headers=("When", "Score"))
    left, right = chart.plot["left"], chart.plot["right"]
    xs = [m["x"] for m in chart.marks]
    assert xs[0] == left
    assert xs[2] == right
    assert abs(xs[1] - (left + (right - left) / 10)) < 0.2  # 1/10 of the width, not 1/2


def test_the_threshold_line_sits_at_the_threshold_value():
    t0 = datetime(2026, 11, 1, tzinfo=TOKYO)
    points = [(t0, 0.0, True), (t0 + timedelta(days=2), 150.0, True)]
    chart = charts.line_chart(
        points, title="Score", headers=("When", "Score"), threshold=100, threshold_label="MQL 100"
    )
    zero = next(t["y"] for t in chart.y_ticks if t["label"] == "0")
    top = next(t["y"] for t in chart.y_ticks if t["label"] == "150")
    assert chart.threshold is not None
    assert abs(chart.threshold["y"] - (zero + (top - zero) * 100 / 150)) < 0.2

    columns = charts.column_chart(
        [(0, 20, 3), (20, 40, 5), (40, 60, 1)],
        title="Scores",
        headers=("Score", "Leads"),
        labels=["0–20", "20–40", "40–60"],
        threshold=30,
        threshold_label="MQL 30",
    )
    assert columns.threshold is not None
    plot = columns.plot
    assert abs(columns.threshold["x"] - (plot["left"] + (plot["right"] - plot["left"]) / 2)) < 0.2


def test_every_chart_renders_values_on_hover_and_focus_and_a_data_table():
    with translation.override("en"):
        bars = charts.bar_chart(
            [("no_budget", 4), ("competitor", 1)], title="Reasons", headers=("Reason", "Leads")
        )
        html = render_to_string("console/_chart.html", {"chart": bars})
    assert html.count('tabindex="0"') == 2
    assert 'role="group"' in html  # focusable marks: not inside an img
    assert "<title>no_budget: 4</title>" in html
    assert 'aria-label="Reasons: 2 rows, total 5; largest no_budget (4)."' in html
    assert "<details" in html
    assert '<th scope="row">competitor</th><td class="num">1</td>' in html
    assert 'font-size="13"' in html


def test_a_chart_without_data_says_so():
    with translation.override("en"):
        html = render_to_string(
            "console/_chart.html", {"chart": charts.bar_chart([], title="x", headers=("a", "b"))}
        )
    assert "<svg" not in html
    assert "No data yet." in html
