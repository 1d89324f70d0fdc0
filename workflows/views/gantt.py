"""The execution page's Gantt chart: every attempt of every step (and ``for_each`` item) as a bar
on one time axis, its queued part apart from its running part (docs/ui.md, "Charts")."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils import timezone

from synchronise.lib import charts
from workflows.models import StepRun, StepStatus, WorkflowExecution
from workflows.views.timeline import Attempt, StepSummary

WIDTH = 1000  # the bars' viewBox width; rows scale to the page's width
TITLE_PART = 400  # characters of inputs / outputs / error in a bar's tooltip
MIN_WIDTH = 6  # a bar's least width, so an instant attempt stays visible and clickable


@dataclass(frozen=True)
class Bar:
    """One attempt, as ``(x, width)`` spans: ``queued`` from its creation to its start (or to now,
    still queued), ``running`` from its start to its end (or to now); either may be absent."""

    pk: int
    status: str
    attempt: int
    queued: tuple[float, float] | None
    running: tuple[float, float] | None
    title: str
    reused: bool = False

    @property
    def headline(self) -> str:
        return self.title.split("\n", 1)[0]


@dataclass
class Row:
    step: str
    label: str  # the step id, or "item 3" under it
    status: str
    status_label: str
    is_item: bool = False
    bars: list[Bar] = field(default_factory=list)
    note: str = ""  # for a row without bars: why


@dataclass
class Gantt:
    rows: list[Row]
    ticks: list[charts.Tick]
    started: datetime.datetime
    span_seconds: float
    live: bool
    summary: str

    @property
    def bar_count(self) -> int:
        return sum(len(row.bars) for row in self.rows)


def _clip(text: str) -> str:
    return text if len(text) <= TITLE_PART else text[: TITLE_PART - 1] + "…"


def _title(step: str, attempt: Attempt, items: int, queued_ms: float | None) -> str:
    row = attempt.row
    head = f"{step}" + (f" · item {row.item}" if items > 1 else "") + f" · attempt {row.attempt}"
    head += f" · {row.get_status_display().lower()}"
    if queued_ms is not None:
        head += f" · queued {queued_ms:.0f} ms"
    if row.duration_ms is not None:
        head += f" · ran {row.duration_ms:.0f} ms"
    if row.reused:
        head += " · reused from the source execution"
    parts = [head, f"Inputs: {_clip(attempt.inputs)}"]
    if attempt.outputs:
        parts.append(f"Outputs: {_clip(attempt.outputs)}")
    if attempt.error:
        parts.append(f"Error: {_clip(attempt.error)}")
    return "\n".join(parts)


def build(execution: WorkflowExecution, steps: list[StepSummary], now: datetime.datetime | None = None) -> Gantt:
    """The chart of ``steps`` (from ``timeline.summaries``): no query of its own."""
    now = now or timezone.now()
    attempts: list[tuple[StepSummary, Attempt]] = [(s, a) for s in steps for a in s.history + s.latest]
    moments = [execution.started_at or execution.created_at]
    moments += [a.row.created_at for _, a in attempts]
    start = min(m for m in moments if m is not None)
    ends = [execution.finished_at or now]
    ends += [a.row.finished_at for _, a in attempts if a.row.finished_at]
    end = max(ends)
    span = max((end - start).total_seconds(), 0.001)

    def x(moment: datetime.datetime) -> float:
        return round(min(max((moment - start).total_seconds() / span, 0), 1) * WIDTH, 2)

    rows: list[Row] = []
    for step in steps:
        by_item: dict[int, list[Attempt]] = {}
        for attempt in sorted(step.history + step.latest, key=lambda a: (a.row.item, a.row.attempt)):
            by_item.setdefault(attempt.row.item, []).append(attempt)
        head = Row(step=step.id, label=step.id, status=step.status, status_label=step.status_label)
        rows.append(head)
        if not by_item:
            head.note = "never reached" if step.status == "not_run" else "waiting for the steps before it"
            continue
        for item, item_attempts in sorted(by_item.items()):
            target = head
            if step.items > 1:
                last = item_attempts[-1].row
                target = Row(
                    step=step.id,
                    label=f"item {item}",
                    status=last.status,
                    status_label=last.get_status_display(),
                    is_item=True,
                )
                rows.append(target)
            for attempt in item_attempts:
                target.bars.append(_bar(step, attempt, x, now))
    live = not execution.is_finished
    total = sum(len(row.bars) for row in rows)
    summary = (
        f"{len(steps)} step{'s' if len(steps) != 1 else ''}, {total} attempt{'s' if total != 1 else ''} "
        f"over {charts.seconds_label(span)}" + (" so far" if live else "") + "."
    )
    return Gantt(rows, charts.time_ticks(span, WIDTH), start, span, live, summary)


def _span(start: float, end: float) -> tuple[float, float]:
    width = max(end - start, MIN_WIDTH)
    return (round(min(start, WIDTH - width), 2), round(width, 2))


def _bar(
    step: StepSummary, attempt: Attempt, place: Callable[[datetime.datetime], float], now: datetime.datetime
) -> Bar:
    row: StepRun = attempt.row
    queued = running = None
    queued_ms: float | None = None
    if row.started_at is not None:
        if row.created_at < row.started_at:
            queued = _span(place(row.created_at), place(row.started_at))
            queued_ms = (row.started_at - row.created_at).total_seconds() * 1000
        running = _span(place(row.started_at), place(row.finished_at or now))
    elif row.status == StepStatus.SKIPPED or row.finished_at is not None:
        # Skipped (a branch not taken) or ended before it ran: a mark where it was decided.
        point = place(row.finished_at or row.created_at)
        running = _span(point, point)
    else:
        queued = _span(place(row.created_at), place(now))  # queued, pending or waiting to retry
    return Bar(
        pk=row.pk,
        status=row.status,
        attempt=row.attempt,
        queued=queued,
        running=running,
        title=_title(step.id, attempt, step.items, queued_ms),
        reused=row.reused,
    )
