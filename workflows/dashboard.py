"""The workflows panel of the dashboard (``accounts.dashboard``): executions per day by status,
p50/p95 run time per day, and the workflows failing most, over the last 30 days of every project
the user can see. Three queries, whatever the number of projects or executions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.utils import timezone

from accounts.dashboard import Subscriptions, dashboard_panel
from accounts.models import Project, User
from synchronise.lib import charts
from workflows import stats
from workflows.models import Status, WorkflowExecution

DAYS = 30
# Bottom to top: what went well at the base, failures on top where they catch the eye.
STATUS_ORDER = [Status.SUCCEEDED, Status.CANCELLED, Status.TIMED_OUT, Status.FAILED, Status.RUNNING, Status.QUEUED]


def _subscriptions(projects: Sequence[Project]) -> Subscriptions:
    return [("listWorkflowExecutions", {"project_id": project.pk}) for project in projects]


@dashboard_panel("workflow-runs", template="workflows/partials/dashboard_runs.html", subscriptions=_subscriptions)
def runs_panel(user: User, projects: Sequence[Project]) -> dict[str, Any]:
    today = timezone.localdate()
    executions = WorkflowExecution.objects.filter(project__in=[p.pk for p in projects])
    days = charts.days_back(today, DAYS)
    counts = stats.daily_status_counts(executions, days=DAYS, today=today) if projects else {}
    percentiles = stats.daily_duration_percentiles(executions, days=DAYS, today=today) if projects else {}
    durations, duration_rows = charts.duration_lines(days, percentiles)
    labels = dict(Status.choices)
    return {
        "days": DAYS,
        "zone": timezone.get_current_timezone_name(),
        "statuses": [(status, labels[status]) for status in STATUS_ORDER],
        "per_day": charts.stacked_bars(days, counts, STATUS_ORDER, labels=labels),
        "per_day_rows": [
            (day, [counts.get(day, {}).get(status, 0) for status in STATUS_ORDER]) for day in days if day in counts
        ],
        "durations": durations,
        "duration_rows": duration_rows,
        "failing": stats.top_failing(executions, days=DAYS, today=today) if projects else [],
    }
