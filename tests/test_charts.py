"""The charts' geometry (synchronise/lib/charts.py): numbers in, shapes out, no database."""

from __future__ import annotations

import datetime

import pytest

from synchronise.lib import charts

DAY = datetime.date(2026, 12, 8)


def test_stacked_bars_stack_each_days_statuses_from_the_axis():
    days = charts.days_back(DAY, 3)
    chart = charts.stacked_bars(days, {DAY: {"succeeded": 3, "failed": 1}}, ["succeeded", "failed"])
    ok, failed = chart.bars
    assert (ok.css, ok.value, failed.css, failed.value) == ("succeeded", 3, "failed", 1)
    assert ok.y + ok.height == chart.plot_bottom  # the first segment sits on the axis
    assert failed.y + failed.height == ok.y  # the next one on top of it
    assert ok.height == pytest.approx(3 * failed.height)
    assert chart.y_ticks[-1].label == "5"  # a round axis top at or above the tallest day (4)
    assert ok.x > charts.LEFT + 2 * (charts.WIDTH - charts.LEFT) / 3 - 1  # today is the last slot
    assert chart.summary == "4 executions over 3 days; the busiest day was 8 Dec with 4."


def test_stacked_bars_of_nothing_are_empty():
    chart = charts.stacked_bars(charts.days_back(DAY, 30), {}, ["succeeded"])
    assert chart.bars == []
    assert chart.empty
    assert chart.summary == "0 executions over 30 days."


def test_nice_ceiling_rounds_up_to_one_two_two_and_a_half_or_five():
    assert [charts.nice_ceiling(v) for v in (0, 1, 3, 7, 22, 240, 9001)] == [1, 1, 5, 10, 25, 250, 10000]


def test_duration_lines_put_p95_above_p50():
    days = charts.days_back(DAY, 2)
    chart, rows = charts.duration_lines(days, {DAY: (1000.0, 4000.0)})
    assert rows == [(DAY, 1.0, 4.0)]
    p50, p95 = chart.markers
    assert p95.y < p50.y  # higher is further up the SVG
    assert chart.lines["p50"].count(",") == 1  # one day of data: one point


def test_the_quota_projection_extrapolates_todays_pace_to_the_month_end():
    projection = charts.quota_projection(used=100, quota=250, today=datetime.date(2026, 12, 10))
    assert (projection.days_in_month, projection.projected, projection.over) == (31, 310, True)
    february = charts.quota_projection(used=10, quota=-1, today=datetime.date(2027, 2, 14))
    assert (february.days_in_month, february.projected, february.over) == (28, 20, False)
    chart = charts.quota_chart(projection, [10, 20, 30, 40, 50, 60, 70, 80, 90, 100])
    assert len(chart.lines["used"].split()) == 10
    assert [m.css for m in chart.markers] == ["quota"]
    assert chart.summary.endswith("at this pace 310 by the end of the month, over the quota.")


def test_time_ticks_choose_a_round_step():
    ticks = charts.time_ticks(2.5, 1000)
    assert [t.label for t in ticks] == ["0", "+500 ms", "+1 s", "+1.5 s", "+2 s", "+2.5 s"]
    assert ticks[-1].at == 1000
    assert [t.label for t in charts.time_ticks(600, 1000)][-1] == "+10 min"


def test_the_sparkline_aligns_the_newest_run_right_and_scales_by_the_slowest():
    bars, _ = charts.sparkline([("failed", 50.0, "#1", "/1"), ("succeeded", 100.0, "#2", "/2")], slots=4)
    assert [b.x for b in bars] == [60.0, 90.0]
    assert bars[1].height == charts.SPARK_HEIGHT - 2
    assert bars[0].height == (charts.SPARK_HEIGHT - 2) / 2
    assert bars[1].y + bars[1].height == charts.SPARK_HEIGHT
    stub, _ = charts.sparkline([("running", None, "#3", "/3")])
    assert stub[0].height == 3  # still running: a stub, not nothing


def test_count_axes_tick_whole_numbers():
    assert charts.value_ticks(5, whole=True) == (5, [0, 1, 2, 3, 4, 5])
    assert charts.value_ticks(9, whole=True) == (10, [0, 2, 4, 6, 8, 10])
    assert charts.value_ticks(2, whole=True) == (2, [0, 1, 2])
    assert charts.value_ticks(7000)[1] == [0, 2500, 5000, 7500, 10000]
    assert [charts.count_label(v) for v in (750, 2500, 10000, 1_200_000)] == ["750", "2.5k", "10k", "1.2M"]
