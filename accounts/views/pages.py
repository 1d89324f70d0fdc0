"""The landing page and the dashboard (its chart panels come from ``accounts.dashboard``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Count, OuterRef, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from accounts import dashboard as panels
from accounts.models import Membership, Permission, Project, ProjectUsage, User, month_start
from accounts.views.access import signed_in

DASHBOARD_PROJECTS = 6
EDITING = (Permission.OWN, Permission.EDIT)


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
    """The user's projects with ``my_permission``, ``member_count``, ``requests_this_month`` and
    ``owner_email`` (whose plan those requests count against)."""
    user = signed_in(request)
    mine = Membership.objects.filter(project=OuterRef("pk"), user=user).values("permission")[:1]
    owner = Membership.objects.filter(project=OuterRef("pk"), permission=Permission.OWN).values("user__email")[:1]
    usage = ProjectUsage.objects.filter(project=OuterRef("pk"), month=month_start()).values("count")[:1]
    # Annotating after a filter on memberships would count only the filtered rows; filter by id.
    return list(
        Project.objects.filter(pk__in=Project.objects.visible_to(user).values("pk"))
        .annotate(
            my_permission=Subquery(mine),
            member_count=Count("memberships", distinct=True),
            requests_this_month=Subquery(usage),
            owner_email=Subquery(owner),
        )
        .order_by("name", "id")
    )


def checklist_of(user: User, projects: list[Project]) -> list[ChecklistItem]:
    """Getting started, for what this user did and can do: their own project, and a component and
    a workflow in a project they may edit. A viewer of someone else's project has done none of
    it (viewing is not building), and the steps stay open to them: anyone can create a project."""
    held = [getattr(p, "my_permission", None) for p in projects]
    editable = [p.pk for p, permission in zip(projects, held, strict=True) if permission in EDITING]
    # Through the reverse relations of the apps above accounts, which accounts does not import.
    built = Project.objects.filter(pk__in=editable)
    component = bool(editable) and built.filter(components__isnull=False).exists()
    workflow = bool(editable) and built.filter(workflows__isnull=False).exists()
    return [
        ChecklistItem("Create a project", Permission.OWN in held, "project_create"),
        ChecklistItem("Create a component", component, "components_home"),
        ChecklistItem("Create a workflow", workflow, "workflows_home"),
    ]


def _panel_views(user: User, projects: list[Project]) -> list[dict[str, Any]]:
    return [
        {
            "name": panel.name,
            "template": panel.template,
            "data": panel.context(user, projects),
            "subscriptions": [(name, json.dumps(params)) for name, params in panel.subscriptions(projects)],
        }
        for panel in panels.panels()
    ]


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    projects = projects_of(request)
    user = signed_in(request)
    checklist = checklist_of(user, projects)
    context = {
        "projects": projects[:DASHBOARD_PROJECTS],
        "project_count": len(projects),
        "viewing_only": bool(projects)
        and not any(
            p.my_permission in (Permission.OWN, Permission.EDIT)  # type: ignore[attr-defined]
            for p in projects
        ),
        "checklist": checklist,
        "checklist_done": sum(item.done for item in checklist),
        "panels": _panel_views(user, projects),
    }
    return render(request, "accounts/dashboard.html", context)


@login_required
@require_GET
def dashboard_panel(request: HttpRequest, name: str) -> HttpResponse:
    """One chart panel alone, fetched again when its data changes: over the user's own projects
    only, like the dashboard (a panel never takes a project from the request)."""
    panel = panels.PANELS.get(name)
    if panel is None:
        raise Http404("no such panel")
    data = panel.context(signed_in(request), projects_of(request))
    return render(request, panel.template, {"panel": data})
