"""Projects: the list, creation, the Info tab, deletion and joining community projects."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts import services
from accounts.forms import DeleteProjectForm, ProjectForm
from accounts.models import Membership, Permission, Project
from accounts.views.access import member_project, signed_in
from accounts.views.pages import projects_of


@login_required
def project_list(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    community = (
        Project.objects.community()
        .exclude(pk__in=Project.objects.visible_to(user).values("pk"))
        .order_by("-updated_at")[:20]
    )
    return render(request, "accounts/project_list.html", {"projects": projects_of(request), "community": community})


@login_required
@require_http_methods(["GET", "POST"])
def project_create(request: HttpRequest) -> HttpResponse:
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        project = form.create(owner=signed_in(request))
        if project is not None:
            messages.success(request, f"Project “{project.name}” created.")
            return redirect("project_detail", project.pk)
    return render(request, "accounts/project_create.html", {"form": form})


def tab_context(project: Project, membership: Membership, tab: str) -> dict[str, object]:
    """What every tab of a project page shows in its header."""
    return {
        "project": project,
        "membership": membership,
        "tab": tab,
        "can_edit": membership.allows(Permission.EDIT),
        "is_owner": membership.permission == Permission.OWN,
    }


@login_required
@require_http_methods(["GET", "POST"])
def project_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The Info tab: everyone who can see the project reads it; editors change it."""
    needed = Permission.EDIT if request.method == "POST" else Permission.VIEW
    project, membership = member_project(request, pk, needed)
    options = {
        "can_set_community": membership.permission == Permission.OWN,
        "read_only": not membership.allows(Permission.EDIT),
    }
    form = ProjectForm(request.POST or None, initial=ProjectForm.initial_of(project), **options)
    if request.method == "POST" and form.is_valid() and form.save(project=project, actor=signed_in(request)):
        messages.success(request, "Project saved.")
        return redirect("project_detail", project.pk)
    return render(request, "accounts/project_detail.html", {**tab_context(project, membership, "info"), "form": form})


PROJECT_TABS = ("info", "team", "keys", "credentials", "connect")


@login_required
@require_http_methods(["GET"])
def project_header(request: HttpRequest, pk: int) -> HttpResponse:
    """The header of the project pages alone, fetched again when the project changes (realtime)."""
    project, membership = member_project(request, pk, Permission.VIEW)
    tab = request.GET.get("tab", "info")
    tab = tab if tab in PROJECT_TABS else "info"
    return render(request, "accounts/partials/project_header.html", tab_context(project, membership, tab))


@login_required
@require_http_methods(["GET", "POST"])
def project_delete(request: HttpRequest, pk: int) -> HttpResponse:
    project, membership = member_project(request, pk, Permission.OWN)
    form = DeleteProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and form.delete(project=project, actor=signed_in(request)):
        messages.success(request, f"Project “{project.name}” deleted.")
        return redirect("project_list")
    return render(request, "accounts/project_delete.html", {**tab_context(project, membership, "info"), "form": form})


@login_required
@require_POST
def project_join(request: HttpRequest, pk: int) -> HttpResponse:
    project = get_object_or_404(Project.objects.community(), pk=pk)
    services.project_join_community(project=project, user=signed_in(request))
    messages.success(request, f"You joined “{project.name}” as an editor.")
    return redirect("project_detail", project.pk)
