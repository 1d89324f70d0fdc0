"""Aggregates of workflow executions for the charts: each is one query, aggregated in the
database (days are calendar days in the viewer's time zone)."""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, F, Q, QuerySet, Window
from django.db.models.expressions import CombinedExpression
from django.db.models.functions import RowNumber, TruncDate
from django.utils import timezone

from workflows.models import FINISHED, Status, WorkflowExecution

FAILED = (Status.FAILED, Status.TIMED_OUT)


def _since(days: int, today: datetime.date, zone: datetime.tzinfo) -> datetime.datetime:
    first = today - datetime.timedelta(days=days - 1)
    return datetime.datetime.combine(first, datetime.time.min, tzinfo=zone)


def daily_status_counts(
    executions: QuerySet[WorkflowExecution], *, days: int, today: datetime.date
) -> dict[datetime.date, dict[str, int]]:
    """``{day: {status: count}}`` for the executions created in the last ``days`` days."""
    zone = timezone.get_current_timezone()
    rows = (
        executions.filter(created_at__gte=_since(days, today, zone))
        .annotate(day=TruncDate("created_at", tzinfo=zone))
        .values("day", "status")
        .annotate(count=Count("id"))
        .order_by()
    )
    found: dict[datetime.date, dict[str, int]] = defaultdict(dict)
    for row in rows:
        found[row["day"]][row["status"]] = row["count"]
    return dict(found)


def _nearest_rank(percent: int) -> CombinedExpression:
    # ⌈percent·n/100⌉ in integer arithmetic (both databases divide integers by truncating):
    # floats would put ⌈0.95·20⌉ at 20 on a bad day.
    return (F("runs") * percent + 99) / 100


def daily_duration_percentiles(
    executions: QuerySet[WorkflowExecution], *, days: int, today: datetime.date
) -> dict[datetime.date, tuple[float, float]]:
    """``{day: (p50_ms, p95_ms)}`` of the finished executions' durations, by nearest rank.

    Portable SQL (PostgreSQL and SQLite): each run is numbered within its day by duration, and
    only the runs at ranks ⌈0.5·n⌉ and ⌈0.95·n⌉ come back, two rows a day at most."""
    zone = timezone.get_current_timezone()
    day = TruncDate("created_at", tzinfo=zone)
    ranked = (
        executions.filter(created_at__gte=_since(days, today, zone), status__in=FINISHED, duration_ms__isnull=False)
        .annotate(
            day=day,
            rank=Window(RowNumber(), partition_by=[day], order_by=[F("duration_ms").asc(), F("id").asc()]),
            runs=Window(Count("id"), partition_by=[day]),
        )
        .filter(Q(rank=_nearest_rank(50)) | Q(rank=_nearest_rank(95)))
        .values_list("day", "rank", "runs", "duration_ms")
        .order_by()
    )
    found: dict[datetime.date, dict[str, float | None]] = defaultdict(dict)
    for when, rank, runs, duration in ranked:
        if rank == (runs * 50 + 99) // 100:
            found[when]["p50"] = duration
        if rank == (runs * 95 + 99) // 100:
            found[when]["p95"] = duration
    return {
        when: (float(values["p50"] or 0), float(values["p95"] or 0))
        for when, values in found.items()
        if len(values) == 2  # both percentiles
    }


@dataclass(frozen=True)
class Failing:
    workflow_id: int
    name: str
    project: str
    failed: int
    total: int


def top_failing(
    executions: QuerySet[WorkflowExecution], *, days: int, today: datetime.date, limit: int = 5
) -> list[Failing]:
    """The workflows with the most failed (or timed out) executions in the period, most first."""
    zone = timezone.get_current_timezone()
    rows = (
        executions.filter(created_at__gte=_since(days, today, zone))
        .values("workflow_id", "workflow__name", "project__name")
        .annotate(failed=Count("id", filter=Q(status__in=FAILED)), total=Count("id"))
        .filter(failed__gt=0)
        .order_by("-failed", "workflow__name", "workflow_id")[:limit]
    )
    return [Failing(r["workflow_id"], r["workflow__name"], r["project__name"], r["failed"], r["total"]) for r in rows]


def recent_runs(workflow_ids: list[int], *, limit: int = 30) -> dict[int, list[dict[str, Any]]]:
    """The last ``limit`` executions of each workflow, oldest first: one query for any number."""
    if not workflow_ids:
        return {}
    rows = (
        WorkflowExecution.objects.filter(workflow_id__in=workflow_ids)
        .annotate(
            recent=Window(
                RowNumber(), partition_by=[F("workflow_id")], order_by=[F("created_at").desc(), F("id").desc()]
            )
        )
        .filter(recent__lte=limit)
        .values("pk", "workflow_id", "status", "duration_ms", "created_at")
        .order_by()
    )
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: (r["created_at"], r["pk"])):
        found[row["workflow_id"]].append(dict(row))
    return dict(found)
