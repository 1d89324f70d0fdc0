"""Executions: the lists (a workflow's tab and a project's page, filtered, refreshed live), the
execution page with its Gantt chart and step list, the editor's run-progress fragment, and the buttons
cancel / restart from a step / replay / re-run the failures (``workflows.runs``; they need ``edit``)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.models import Membership, Permission, Project
from accounts.views.access import member_project, signed_in
from components.errors import RunError
from workflows import runs, stats
from workflows.forms import ExecutionFilterForm
from workflows.models import WorkflowExecution
from workflows.views import gantt
from workflows.views.access import can_edit, error_messages, member_execution, member_workflow
from workflows.views.sparklines import sparkline
from workflows.views.tabs import tab_context
from workflows.views.timeline import pretty, summaries

PAGE_SIZE = 25


def _rows(request: HttpRequest, executions: QuerySet[WorkflowExecution], form: ExecutionFilterForm) -> dict[str, Any]:
    """One page of the filtered executions, and the query string that reproduces the filters."""
    executions = form.apply(executions.select_related("workflow", "version", "user", "api_key"))
    page = Paginator(executions, PAGE_SIZE).get_page(request.GET.get("page"))
    return {"page": page, "executions": page.object_list, "query": form.query(), "filters": form}


# --- a workflow's executions ------------------------------------------------------------------


@login_required
@require_GET
def workflow_executions(request: HttpRequest, pk: int) -> HttpResponse:
    workflow, membership = member_workflow(request, pk, Permission.VIEW)
    form = ExecutionFilterForm(request.GET)
    context = {
        **tab_context(workflow, membership, "executions"),
        **_rows(request, workflow.executions.all(), form),
        "sparkline": sparkline(stats.recent_runs([workflow.pk]).get(workflow.pk, [])),
    }
    return render(request, "workflows/executions.html", context)


@login_required
@require_GET
def workflow_executions_rows(request: HttpRequest, pk: int) -> HttpResponse:
    """The table alone, fetched again when an execution changes (``listWorkflowExecutions``)."""
    workflow, membership = member_workflow(request, pk, Permission.VIEW)
    form = ExecutionFilterForm(request.GET)
    context = {
        **tab_context(workflow, membership, "executions"),
        **_rows(request, workflow.executions.all(), form),
        "sparkline": sparkline(stats.recent_runs([workflow.pk]).get(workflow.pk, [])),
    }
    return render(request, "workflows/partials/execution_rows.html", context)


@login_required
@require_POST
def workflow_rerun_failed(request: HttpRequest, pk: int) -> HttpResponse:
    """Replay the failures not re-run yet (``runs.executions_rerun_failed``)."""
    workflow, _ = member_workflow(request, pk, Permission.EDIT)
    try:
        rerun = runs.executions_rerun_failed(workflow=workflow, actor=signed_in(request))
    except (ValidationError, RunError) as error:
        _refused(request, error)
        return redirect("workflows_executions", workflow.pk)
    # The message says why failures on bad input were left out, not only that nothing was left.
    (messages.success if rerun.started else messages.info)(request, rerun.message)
    return redirect("workflows_executions", workflow.pk)


# --- a project's executions -------------------------------------------------------------------


def _project_context(request: HttpRequest, project: Project, membership: Membership) -> dict[str, Any]:
    form = ExecutionFilterForm(request.GET, workflows=project.workflows.order_by("name"))
    return {
        "project": project,
        "membership": membership,
        "can_edit": can_edit(membership),
        "show_workflow": True,
        **_rows(request, WorkflowExecution.objects.filter(project=project), form),
    }


@login_required
@require_GET
def project_executions(request: HttpRequest, project_pk: int) -> HttpResponse:
    project, membership = member_project(request, project_pk, Permission.VIEW)
    return render(request, "workflows/project_executions.html", _project_context(request, project, membership))


@login_required
@require_GET
def project_executions_rows(request: HttpRequest, project_pk: int) -> HttpResponse:
    project, membership = member_project(request, project_pk, Permission.VIEW)
    context = _project_context(request, project, membership)
    return render(request, "workflows/partials/execution_rows.html", context)


# --- one execution ----------------------------------------------------------------------------


def _execution_context(execution: WorkflowExecution, membership: Membership) -> dict[str, Any]:
    steps = summaries(execution)
    return {
        "execution": execution,
        "workflow": execution.workflow,
        "project": execution.project,
        "can_edit": can_edit(membership),
        "steps": steps,
        "gantt": gantt.build(execution, steps),
        "inputs_json": pretty(execution.inputs),
        "outputs_json": pretty(execution.outputs) if execution.outputs else "",
        "error_json": pretty(execution.error) if execution.error else "",
    }


@login_required
@require_GET
def execution_detail(request: HttpRequest, pk: int) -> HttpResponse:
    execution, membership = member_execution(request, pk)
    return render(request, "workflows/execution_detail.html", _execution_context(execution, membership))


@login_required
@require_GET
def execution_timeline(request: HttpRequest, pk: int) -> HttpResponse:
    """The execution page's live part, fetched again on every change (``getWorkflowExecution``)."""
    execution, membership = member_execution(request, pk)
    return render(request, "workflows/partials/execution_live.html", _execution_context(execution, membership))


@login_required
@require_GET
def execution_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The editor's run panel: status per step (the page script colours the cards from it), then outputs."""
    execution, membership = member_execution(request, pk)
    return render(request, "workflows/partials/run_progress.html", _execution_context(execution, membership))


def _refused(request: HttpRequest, error: ValidationError | RunError) -> None:
    if isinstance(error, RunError):
        messages.error(request, f"{error.code}: {error.message}")
        return
    for problems in error_messages(error).values():
        for problem in problems:
            messages.error(request, problem)


@login_required
@require_POST
def execution_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    execution, _ = member_execution(request, pk, Permission.EDIT)
    if runs.execution_cancel(execution=execution, actor=signed_in(request)):
        messages.success(request, f"Execution #{execution.pk} cancelled.")
    else:
        messages.info(request, f"Execution #{execution.pk} had already finished.")
    return redirect("workflows_execution", execution.pk)


@login_required
@require_POST
def execution_replay(request: HttpRequest, pk: int) -> HttpResponse:
    execution, _ = member_execution(request, pk, Permission.EDIT)
    try:
        again = runs.execution_replay(execution=execution, actor=signed_in(request))
    except (ValidationError, RunError) as error:
        _refused(request, error)
        return redirect("workflows_execution", execution.pk)
    messages.success(request, f"Replaying #{execution.pk} with the same inputs.")
    return redirect("workflows_execution", again.pk)


@login_required
@require_POST
def execution_restart(request: HttpRequest, pk: int) -> HttpResponse:
    execution, _ = member_execution(request, pk, Permission.EDIT)
    step = request.POST.get("step", "")
    try:
        again = runs.execution_restart(execution=execution, step=step, actor=signed_in(request))
    except (ValidationError, RunError) as error:
        _refused(request, error)
        return redirect("workflows_execution", execution.pk)
    messages.success(request, f"Restarted #{execution.pk} from {step}; the steps before it were reused.")
    return redirect("workflows_execution", again.pk)
