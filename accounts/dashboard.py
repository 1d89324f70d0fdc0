"""The dashboard's chart panels: a registry the apps above accounts add to, and the usage panel.

Accounts does not import the apps built on it, so each app contributes its panels from a
``dashboard.py`` module of its own (discovered at start-up like ``admin.py``) with
``@dashboard_panel``. A panel is a template, a function giving its context for a user's projects,
and the realtime calls whose updates make the page fetch the panel again
(``/dashboard/panels/<name>/``, docs/ui.md "Charts").
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts import services
from accounts.models import Permission, Project, User, month_start
from synchronise.lib import charts

Subscriptions = list[tuple[str, dict[str, Any]]]
ContextFunction = Callable[[User, Sequence[Project]], dict[str, Any]]


@dataclass(frozen=True)
class Panel:
    name: str
    template: str
    context: ContextFunction
    subscriptions: Callable[[Sequence[Project]], Subscriptions]
    order: int = 100


PANELS: dict[str, Panel] = {}


def dashboard_panel(
    name: str, *, template: str, subscriptions: Callable[[Sequence[Project]], Subscriptions], order: int = 100
) -> Callable[[ContextFunction], ContextFunction]:
    """Register ``function(user, projects) -> context`` as the panel ``name``."""

    def register(function: ContextFunction) -> ContextFunction:
        PANELS[name] = Panel(name, template, function, subscriptions, order)
        return function

    return register


def panels() -> list[Panel]:
    return sorted(PANELS.values(), key=lambda panel: (panel.order, panel.name))


def owned(projects: Sequence[Project]) -> list[Project]:
    """Of projects from ``pages.projects_of`` (they carry ``my_permission``), those the user owns:
    their requests count against the user's own plan; the others' count against their owners'."""
    return [p for p in projects if getattr(p, "my_permission", None) == Permission.OWN]


def _runs_per_day(projects: Sequence[Project], since: datetime.datetime) -> dict[datetime.date, int]:
    """Runs started per day in ``projects`` (component and workflow executions, two queries)."""
    zone = timezone.get_current_timezone()
    found: dict[datetime.date, int] = {}
    ids = [p.pk for p in projects]
    # Through the reverse relations of the apps above accounts, which accounts does not import.
    for relation in ("executions", "workflow_executions"):
        rows = (
            Project.objects.filter(pk__in=ids, **{f"{relation}__created_at__gte": since})
            .values(day=TruncDate(f"{relation}__created_at", tzinfo=zone))
            .annotate(count=Count(relation))
            .order_by()
        )
        for row in rows:
            found[row["day"]] = found.get(row["day"], 0) + row["count"]
    return found


def quota_series(used: int, runs: dict[datetime.date, int], today: datetime.date) -> list[int]:
    """Requests used by the end of each day of the month so far, ending at ``used``.

    The plan's counter has no per-day history, so the day-by-day shape is the runs recorded each
    day (scaled to the counter: runs refused before they counted, or deleted since, make the
    two differ); with no runs on record the counter grows evenly."""
    days = [today.replace(day=day) for day in range(1, today.day + 1)]
    total = sum(runs.get(day, 0) for day in days)
    series, running = [], 0
    for index, day in enumerate(days, start=1):
        running += runs.get(day, 0)
        share = running / total if total else index / len(days)
        series.append(round(used * share))
    return series


def _usage_subscriptions(projects: Sequence[Project]) -> Subscriptions:
    return [("listWorkflowExecutions", {"project_id": project.pk}) for project in owned(projects)]


@dashboard_panel(
    "usage", template="accounts/partials/dashboard_usage.html", subscriptions=_usage_subscriptions, order=0
)
def usage_panel(user: User, projects: Sequence[Project]) -> dict[str, Any]:
    """The user's own plan: used, quota, the month so far and the projection to its end; and the
    per-project counts split into the projects that count against it and the others."""
    today = timezone.localdate()
    usage = services.usage_of(user=user)
    mine = owned(projects)
    start = datetime.datetime.combine(today.replace(day=1), datetime.time.min, tzinfo=timezone.get_current_timezone())
    projection = charts.quota_projection(used=usage.used, quota=usage.quota, today=today)
    series = quota_series(usage.used, _runs_per_day(mine, start) if mine and usage.used else {}, today)

    def count(project: Project) -> int:
        return getattr(project, "requests_this_month", None) or 0

    shared = [p for p in projects if p not in mine]
    return {
        "usage": usage,
        "month": month_start(today),
        "projection": projection,
        "chart": charts.quota_chart(projection, series),
        "owned": sorted(mine, key=lambda p: (-count(p), p.name)),
        "shared": sorted((p for p in shared if count(p)), key=lambda p: (-count(p), p.name)),
    }
