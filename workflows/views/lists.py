"""The workflow list, grouped by project and refreshed live; create, duplicate and delete."""

from __future__ import annotations

from collections import defaultdict

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Max, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Membership, Permission, Project
from accounts.views.access import member_project, signed_in
from accounts.views.pages import projects_of
from workflows import services
from workflows.forms import WorkflowCreateForm, WorkflowImportForm
from workflows.models import Workflow
from workflows.views.access import can_edit, member_workflow
from workflows.views.sparklines import with_sparklines
from workflows.views.tabs import tab_context


def _can_edit(project: Project) -> bool:
    """For projects from ``projects_of``, which carry the user's ``my_permission``."""
    return Membership(permission=project.my_permission).allows(Permission.EDIT)  # type: ignore[attr-defined]


def _listed(projects: list[Project] | Project) -> QuerySet[Workflow]:
    """Workflows with their latest version number (one query for any number of projects)."""
    scope = projects if isinstance(projects, list) else [projects]
    return Workflow.objects.filter(project__in=scope).annotate(newest_version=Max("versions__number"))


def _groups(projects: list[Project]) -> list[tuple[Project, list[Workflow], bool]]:
    by_project: dict[int, list[Workflow]] = defaultdict(list)
    for workflow in with_sparklines(_listed(projects)):
        by_project[workflow.project_id].append(workflow)
    return [(project, by_project[project.pk], _can_edit(project)) for project in projects]


def _list_page(
    request: HttpRequest,
    form: WorkflowCreateForm | None = None,
    import_form: WorkflowImportForm | None = None,
    status: int = 200,
) -> HttpResponse:
    projects = projects_of(request)
    editable = [p for p in projects if _can_edit(p)]
    initial = {"project": editable[0].pk if editable else None}
    context = {
        "groups": _groups(projects),
        "form": form or WorkflowCreateForm(projects=editable, initial=initial),
        "import_form": import_form or WorkflowImportForm(projects=editable, initial=initial),
        "editable": editable,
    }
    return render(request, "workflows/workflow_list.html", context, status=status)


@login_required
@require_GET
def workflow_list(request: HttpRequest) -> HttpResponse:
    return _list_page(request)


@login_required
@require_GET
def workflow_project_list(request: HttpRequest, project_pk: int) -> HttpResponse:
    """One project's workflows alone, fetched again when they change (``listWorkflows``)."""
    project, membership = member_project(request, project_pk, Permission.VIEW)
    return render(
        request,
        "workflows/partials/project_workflows.html",
        {
            "project": project,
            "workflows": with_sparklines(_listed(project)),
            "can_edit": membership.allows(Permission.EDIT),
        },
    )


@login_required
@require_POST
def workflow_create(request: HttpRequest) -> HttpResponse:
    editable = [p for p in projects_of(request) if _can_edit(p)]
    form = WorkflowCreateForm(request.POST, projects=editable)
    if form.is_valid():
        workflow = form.create(actor=signed_in(request))
        if workflow is not None:
            messages.success(request, f"Workflow “{workflow.name}” created: add its first step.")
            return redirect("workflows_editor", workflow.pk)
    return _list_page(request, form, status=400)


@login_required
@require_POST
def workflow_import(request: HttpRequest) -> HttpResponse:
    """Import an exported workflow (and its embedded components) into a project the user edits."""
    editable = [p for p in projects_of(request) if _can_edit(p)]
    form = WorkflowImportForm(request.POST, request.FILES, projects=editable)
    if form.is_valid():
        workflow = form.save(actor=signed_in(request))
        if workflow is not None:
            messages.success(request, f"Workflow “{workflow.name}” imported as a draft.")
            return redirect("workflows_editor", workflow.pk)
    return _list_page(request, import_form=form, status=400)


@login_required
@require_POST
def workflow_duplicate(request: HttpRequest, pk: int) -> HttpResponse:
    workflow, _ = member_workflow(request, pk, Permission.EDIT)
    copy = services.workflow_duplicate(workflow=workflow, actor=signed_in(request))
    messages.success(request, f"Copied to “{copy.name}”.")
    return redirect("workflows_editor", copy.pk)


@login_required
@require_http_methods(["GET", "POST"])
def workflow_delete(request: HttpRequest, pk: int) -> HttpResponse:
    workflow, membership = member_workflow(request, pk, Permission.EDIT)
    if request.method == "POST":
        services.workflow_delete(workflow=workflow, actor=signed_in(request))
        messages.success(request, f"Workflow “{workflow.name}” deleted.")
        return redirect("workflows_home")
    context = {
        **tab_context(workflow, membership, "delete"),
        "executions": workflow.executions.count(),
        "can_edit": can_edit(membership),
    }
    return render(request, "workflows/workflow_delete.html", context)
