"""The landing page and the dashboard."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.db.models import Count, OuterRef, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from accounts.models import Membership, Project, ProjectUsage, month_start
from accounts.views.access import signed_in

DASHBOARD_PROJECTS = 6
BUSIEST_PROJECTS = 5


@dataclass(frozen=True)
class ChecklistItem:
    label: str
    done: bool
    url_name: str


def landing(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("dashboard")
    return render(request, "accounts/landing.html")


def projects_of(request: HttpRequest) -> list[Project]:
    """The user's projects with ``my_permission``, ``member_count`` and ``requests_this_month``."""
    user = signed_in(request)
    mine = Membership.objects.filter(project=OuterRef("pk"), user=user).values("permission")[:1]
    usage = ProjectUsage.objects.filter(project=OuterRef("pk"), month=month_start()).values("count")[:1]
    # Annotating after a filter on memberships would count only the filtered rows; filter by id.
    return list(
        Project.objects.filter(pk__in=Project.objects.visible_to(user).values("pk"))
        .annotate(
            my_permission=Subquery(mine),
            member_count=Count("memberships", distinct=True),
            requests_this_month=Subquery(usage),
        )
        .order_by("name", "id")
    )


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    projects = projects_of(request)
    # Through the reverse relations of the apps above accounts, which accounts does not import.
    mine = Project.objects.visible_to(request.user)
    checklist = [
        ChecklistItem("Create a project", bool(projects), "project_create"),
        ChecklistItem("Create a component", mine.filter(components__isnull=False).exists(), "components_home"),
        ChecklistItem("Create a workflow", mine.filter(workflows__isnull=False).exists(), "workflows_home"),
    ]
    used = [(p, getattr(p, "requests_this_month", None) or 0) for p in projects]
    context = {
        "projects": projects[:DASHBOARD_PROJECTS],
        "project_count": len(projects),
        "busiest": [p for p, count in sorted(used, key=lambda pair: -pair[1]) if count][:BUSIEST_PROJECTS],
        "checklist": checklist,
        "checklist_done": sum(item.done for item in checklist),
        "month": month_start(),
    }
    return render(request, "accounts/dashboard.html", context)
