"""The geometry of the UI's charts, in plain numbers: templates turn it into SVG.

Every chart is drawn in a fixed coordinate box (``viewBox``) and scaled by the browser, so the
same markup fits a phone and a laptop. Nothing here knows about models or HTML: the callers
pass numbers, dates and labels, and get rectangles, points and ticks back (docs/ui.md, "Charts").
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

# The plot area of the dashboard charts, in viewBox units; the axis labels live in the margins.
WIDTH = 600
HEIGHT = 200
LEFT = 56  # room for the y-axis labels (short: "2.5k")
BOTTOM = 28  # room for the x-axis labels
TOP = 8


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    css: str  # a status or series name, used as a class (``bar-failed``)
    title: str  # the tooltip and accessible text of this bar
    value: float = 0


@dataclass(frozen=True)
class Tick:
    at: float  # the coordinate on its axis
    label: str


@dataclass
class Chart:
    """A chart's shapes; ``summary`` is the one-sentence description for ``aria-label``."""

    summary: str
    width: float = WIDTH
    height: float = HEIGHT
    bars: list[Rect] = field(default_factory=list)
    lines: dict[str, str] = field(default_factory=dict)  # series → SVG ``points``
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    markers: list[Rect] = field(default_factory=list)  # thin extras: a quota line, "today"
    empty: bool = False

    @property
    def plot_left(self) -> float:
        return LEFT

    @property
    def plot_bottom(self) -> float:
        return self.height - BOTTOM

    @property
    def plot_right(self) -> float:
        return self.width


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten, at or above ``value`` (1 for nothing to show)."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power + 1e-9:
            return step * power
    return 10 * power  # pragma: no cover - the loop ends at 10


def value_ticks(maximum: float, *, whole: bool = False) -> tuple[float, list[float]]:
    """The axis top (a round number ≥ ``maximum``) and evenly spaced values from 0 to it: four
    steps, or with ``whole`` (counts) the most of 4, 5, 2, 1 steps that are whole numbers."""
    top = nice_ceiling(maximum)
    count = 4
    if whole:
        count = next(c for c in (4, 5, 2, 1) if (top / c).is_integer())
    return top, [top * i / count for i in range(count + 1)]


def count_label(value: float) -> str:
    """``750``, ``2.5k``, ``10k``, ``1.2M``: axis labels stay short enough for the margin."""
    if value >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if value >= 1000:
        return f"{value / 1000:g}k"
    return f"{value:g}"


def days_back(today: datetime.date, days: int) -> list[datetime.date]:
    """``days`` calendar days ending with ``today``, oldest first."""
    return [today - datetime.timedelta(days=offset) for offset in range(days - 1, -1, -1)]


def _y(value: float, top: float, height: float) -> float:
    plot = height - BOTTOM - TOP
    return height - BOTTOM - plot * (value / top if top else 0)


def _day_label(day: datetime.date) -> str:
    return f"{day.day} {day:%b}"


def _x_ticks(days: Sequence[datetime.date], slot: float, every: int) -> list[Tick]:
    return [
        Tick(LEFT + slot * index + slot / 2, _day_label(day))
        for index, day in enumerate(days)
        if (len(days) - 1 - index) % every == 0
    ]


def stacked_bars(
    days: Sequence[datetime.date],
    counts: Mapping[datetime.date, Mapping[str, int]],
    order: Sequence[str],
    *,
    noun: str = "execution",
    labels: Mapping[str, str] | None = None,
) -> Chart:
    """One bar per day, its segments stacked in ``order`` (bottom first); days without data get
    no bar. Each segment's title says the day, the series and the count."""
    labels = labels or {}
    totals = [sum(counts.get(day, {}).values()) for day in days]
    top, values = value_ticks(max(totals, default=0), whole=True)
    slot = (WIDTH - LEFT) / max(len(days), 1)
    bar_width = max(slot * 0.7, 1)
    chart = Chart(summary="")
    for index, day in enumerate(days):
        base = 0
        for series in order:
            count = counts.get(day, {}).get(series, 0)
            if not count:
                continue
            y_top, y_bottom = _y(base + count, top, HEIGHT), _y(base, top, HEIGHT)
            chart.bars.append(
                Rect(
                    x=round(LEFT + slot * index + (slot - bar_width) / 2, 2),
                    y=round(y_top, 2),
                    width=round(bar_width, 2),
                    height=round(y_bottom - y_top, 2),
                    css=series,
                    title=f"{_day_label(day)}: {count} {labels.get(series, series).lower()}",
                    value=count,
                )
            )
            base += count
    chart.y_ticks = [Tick(round(_y(v, top, HEIGHT), 2), count_label(v)) for v in values]
    chart.x_ticks = _x_ticks(days, slot, every=7)
    total = sum(totals)
    busiest = max(range(len(days)), key=lambda i: totals[i]) if total else None
    chart.summary = (
        f"{total} {noun}{'s' if total != 1 else ''} over {len(days)} days"
        + (f"; the busiest day was {_day_label(days[busiest])} with {totals[busiest]}" if busiest is not None else "")
        + "."
    )
    chart.empty = total == 0
    return chart


def _points(days: Sequence[datetime.date], values: Mapping[datetime.date, float | None], top: float) -> str:
    slot = (WIDTH - LEFT) / max(len(days), 1)
    points = []
    for index, day in enumerate(days):
        value = values.get(day)
        if value is not None:
            points.append(f"{LEFT + slot * index + slot / 2:.2f},{_y(value, top, HEIGHT):.2f}")
    return " ".join(points)


def duration_lines(
    days: Sequence[datetime.date], percentiles: Mapping[datetime.date, tuple[float, float]]
) -> tuple[Chart, list[tuple[datetime.date, float, float]]]:
    """Two lines (p50 and p95, in seconds) over ``days``, and the rows of its data table.
    A dot for each day with data: a day alone would draw no line."""
    in_seconds = {day: (p50 / 1000, p95 / 1000) for day, (p50, p95) in percentiles.items()}
    top, values = value_ticks(max((p95 for _, p95 in in_seconds.values()), default=0))
    chart = Chart(summary="")
    chart.lines = {
        "p50": _points(days, {d: v[0] for d, v in in_seconds.items()}, top),
        "p95": _points(days, {d: v[1] for d, v in in_seconds.items()}, top),
    }
    slot = (WIDTH - LEFT) / max(len(days), 1)
    for index, day in enumerate(days):
        if day in in_seconds:
            p50, p95 = in_seconds[day]
            for name, value in (("p50", p50), ("p95", p95)):
                chart.markers.append(
                    Rect(
                        x=round(LEFT + slot * index + slot / 2, 2),
                        y=round(_y(value, top, HEIGHT), 2),
                        width=3,
                        height=3,
                        css=name,
                        title=f"{_day_label(day)}: {name} {seconds_label(value)}",
                        value=value,
                    )
                )
    chart.y_ticks = [Tick(round(_y(v, top, HEIGHT), 2), seconds_label(v)) for v in values]
    chart.x_ticks = _x_ticks(days, slot, every=7)
    rows = [(day, *in_seconds[day]) for day in days if day in in_seconds]
    if rows:
        latest = rows[-1]
        chart.summary = (
            f"Median and 95th percentile run time on {len(rows)} of {len(days)} days; "
            f"on {_day_label(latest[0])}: median {seconds_label(latest[1])}, "
            f"95th percentile {seconds_label(latest[2])}."
        )
    else:
        chart.summary = "No finished runs to time yet."
    chart.empty = not rows
    return chart, rows


def seconds_label(seconds: float) -> str:
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.3g} s"
    return f"{seconds * 1000:.0f} ms"


@dataclass(frozen=True)
class QuotaProjection:
    used: int
    quota: int  # -1: unlimited
    projected: int  # at this pace, by the end of the month
    days_in_month: int
    day: int  # today's day of the month

    @property
    def over(self) -> bool:
        return self.quota >= 0 and self.projected > self.quota


def quota_projection(*, used: int, quota: int, today: datetime.date) -> QuotaProjection:
    """At today's pace (``used`` over the days so far, today counted whole), the month's total."""
    next_month = (today.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
    days_in_month = (next_month - today.replace(day=1)).days
    projected = round(used * days_in_month / today.day)
    return QuotaProjection(used=used, quota=quota, projected=projected, days_in_month=days_in_month, day=today.day)


def quota_chart(projection: QuotaProjection, cumulative: Sequence[int]) -> Chart:
    """Requests used so far this month (one point per day up to today), a dashed projection to the
    month's last day, and the quota as a horizontal line when there is one."""
    days = projection.days_in_month
    highest = max(projection.projected, projection.used, projection.quota if projection.quota > 0 else 0)
    top, values = value_ticks(highest, whole=True)
    slot = (WIDTH - LEFT) / max(days - 1, 1)

    def x(day: int) -> float:
        return LEFT + slot * (day - 1)

    chart = Chart(summary="")
    chart.lines["used"] = " ".join(
        f"{x(day):.2f},{_y(count, top, HEIGHT):.2f}" for day, count in enumerate(cumulative, start=1)
    )
    chart.lines["projected"] = (
        f"{x(projection.day):.2f},{_y(projection.used, top, HEIGHT):.2f} "
        f"{x(days):.2f},{_y(projection.projected, top, HEIGHT):.2f}"
    )
    if projection.quota > 0:
        y = _y(projection.quota, top, HEIGHT)
        chart.markers.append(
            Rect(LEFT, round(y, 2), WIDTH - LEFT, 0, "quota", f"Quota: {projection.quota} requests", projection.quota)
        )
    chart.y_ticks = [Tick(round(_y(v, top, HEIGHT), 2), count_label(v)) for v in values]
    chart.x_ticks = [Tick(round(x(day), 2), str(day)) for day in (1, 8, 15, 22, days)]
    quota = "unlimited" if projection.quota < 0 else f"of {projection.quota}"
    chart.summary = (
        f"{projection.used} requests used {quota} by day {projection.day} of {days}; "
        f"at this pace {projection.projected} by the end of the month"
        + (", over the quota." if projection.over else ".")
    )
    return chart


@dataclass(frozen=True)
class Spark:
    x: float
    y: float
    height: float
    css: str
    title: str
    href: str


SPARK_WIDTH = 120
SPARK_HEIGHT = 24


def sparkline(runs: Sequence[tuple[str, float | None, str, str]], *, slots: int = 30) -> tuple[list[Spark], float]:
    """Bars for recent runs, oldest left: ``(status, duration_ms, title, href)`` each. Heights are
    relative to the slowest run; a run without a duration (queued, running) gets a short stub.
    Returns the bars and one bar's width."""
    width = SPARK_WIDTH / slots
    longest = max((d for _, d, _, _ in runs if d), default=0)
    bars = []
    offset = slots - len(runs)  # right-aligned: the newest run is always at the right edge
    for index, (status, duration, title, href) in enumerate(runs):
        share = (duration / longest) if duration and longest else 0
        height = max(3.0, round(share * (SPARK_HEIGHT - 2), 2))
        bars.append(Spark(round((offset + index) * width, 2), SPARK_HEIGHT - height, height, status, title, href))
    return bars, round(width * 0.75, 2)


# Steps of a time axis, in seconds: the first giving at most MAX_TIME_TICKS ticks is used.
TIME_STEPS: tuple[float, ...] = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30)
TIME_STEPS += (60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400)
MAX_TIME_TICKS = 6


def duration_label(seconds: float) -> str:
    """``+250 ms``, ``+1.5 s``, ``+2 min``, ``+1 h``: an offset from the start of a timeline."""
    if seconds == 0:
        return "0"
    if seconds < 1:
        return f"+{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"+{seconds:g} s"
    if seconds < 3600:
        return f"+{seconds / 60:g} min"
    return f"+{seconds / 3600:g} h"


def time_ticks(span_seconds: float, width: float) -> list[Tick]:
    """Ticks for a time axis of ``span_seconds`` drawn ``width`` units wide, from 0."""
    span = max(span_seconds, 0.001)
    step = next((s for s in TIME_STEPS if span / s <= MAX_TIME_TICKS), TIME_STEPS[-1])
    count = int(span / step + 1e-9)
    return [Tick(round(width * i * step / span, 2), duration_label(i * step)) for i in range(count + 1)]
