"""The sparkline of a workflow's recent runs (status and duration of the last 30 executions),
on the workflow list and the workflow's executions tab (docs/ui.md, "Charts")."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.urls import reverse

from synchronise.lib import charts
from workflows import stats
from workflows.models import Status, Workflow

RUNS = 30


@dataclass(frozen=True)
class Sparkline:
    bars: list[charts.Spark]
    bar_width: float
    summary: str
    width: int = charts.SPARK_WIDTH
    height: int = charts.SPARK_HEIGHT


def sparkline(runs: list[dict[str, Any]]) -> Sparkline:
    """From ``stats.recent_runs`` rows of one workflow, oldest first."""
    labels = dict(Status.choices)
    shapes = [
        (
            run["status"],
            run["duration_ms"],
            f"Execution {run['pk']}: {labels.get(run['status'], run['status']).lower()}"
            + (f" · {charts.seconds_label(run['duration_ms'] / 1000)}" if run["duration_ms"] is not None else ""),
            reverse("workflows_execution", args=[run["pk"]]),
        )
        for run in runs
    ]
    bars, width = charts.sparkline(shapes, slots=RUNS)
    counted = Counter(labels.get(run["status"], run["status"]).lower() for run in runs)
    summary = (
        f"Last {len(runs)} run{'s' if len(runs) != 1 else ''}: "
        + ", ".join(f"{n} {s}" for s, n in counted.most_common())
        if runs
        else "No runs yet"
    )
    return Sparkline(bars, width, summary)


def with_sparklines(workflows: Iterable[Workflow]) -> list[Workflow]:
    """The workflows, each with a ``sparkline`` attribute: one query for all of them."""
    found = list(workflows)
    runs = stats.recent_runs([w.pk for w in found], limit=RUNS)
    for workflow in found:
        workflow.sparkline = sparkline(runs.get(workflow.pk, []))  # type: ignore[attr-defined]
    return found
