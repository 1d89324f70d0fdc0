"""Cloud functions of workflows, for the live parts of the UI and the browser client (DESIGN.md §4).

Members of a workflow's project read it (a 404 for anyone else, superusers included, as in the
REST API); a secret key reaches its own project. A publishable key may only call
``getWorkflowExecution``, and only for the executions it started itself (``Workflow.run`` in
``static/synchronise.js`` follows its run that way).

Subscriptions refresh through the default wiring below: the services publish
``createOrUpdateWorkflow`` / ``deleteWorkflow`` (trigger changes too) and the engine
``workflowExecutionUpdate``, each with ``{id, workflow_id?, project_id}``. A subscribed
``listWorkflowExecutions`` call is keyed by all its parameters: subscribe with
``realtime: {ignore: ["status"]}`` when filtering by status.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers

from accounts.models import ApiKeyKind, Permission, Project
from accounts.services import require_permission
from realtime.publish import deliver
from realtime.registry import Call, CloudError, Result, cloud_function
from realtime.wiring import register_default_wiring
from synchronise.lib.events import install_sink
from workflows.models import FINISHED, STEP_DONE, Schedule, Status, StepRun, StepStatus, Webhook, Workflow
from workflows.models import WorkflowExecution as Execution

register_default_wiring(
    "createOrUpdateWorkflow",
    [("loadWorkflow", {"id": {"filter": "id"}}), ("listWorkflows", {"project_id": {"filter": "project_id"}})],
)
register_default_wiring(
    "deleteWorkflow",
    [("loadWorkflow", {"id": {"filter": "id"}}), ("listWorkflows", {"project_id": {"filter": "project_id"}})],
)
register_default_wiring(
    "workflowExecutionUpdate",
    [
        ("getWorkflowExecution", {"id": {"filter": "id"}}),
        ("listWorkflowExecutions", {"workflow_id": {"filter": "workflow_id"}}),
    ],
)

# The wiring holds one row per (room, function), so the project-wide list of executions cannot
# hang off `workflowExecutionUpdate` beside the per-workflow one. Every such change is therefore
# also published under this second room (same filters and recipients), wired to the project list.
PROJECT_EXECUTIONS_ROOM = "workflowExecutionUpdate.project"
register_default_wiring(PROJECT_EXECUTIONS_ROOM, [("listWorkflowExecutions", {"project_id": {"filter": "project_id"}})])


def _also_project_room(room: str, filters: Mapping[str, Any], recipients: list[int] | None) -> None:
    if room == "workflowExecutionUpdate":
        deliver(PROJECT_EXECUTIONS_ROOM, filters, recipients)


install_sink(_also_project_room)  # runs after commit, in every process that publishes (web and workers)

LIST_LIMIT = 50


def _projects(call: Call) -> QuerySet[Project]:
    """The projects the caller reads: a person's (a secret key: its own); none for a publishable key."""
    if call.api_key is not None and call.api_key.kind == ApiKeyKind.PUBLISHABLE:
        return Project.objects.none()
    projects = Project.objects.visible_to(call.user)
    return projects.filter(pk=call.api_key.project_id) if call.api_key is not None else projects


def _workflow(call: Call, workflow_id: int) -> Workflow:
    """One of the caller's workflows; ``Workflow.DoesNotExist`` (→ 404) otherwise."""
    return Workflow.objects.select_related("project").get(pk=workflow_id, project__in=_projects(call))


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def workflow_data(workflow: Workflow, *, full: bool = False) -> dict[str, Any]:
    definition = workflow.definition or {}
    data: dict[str, Any] = {
        "id": workflow.pk,
        "project_id": workflow.project_id,
        "name": workflow.name,
        "description": workflow.description,
        "public": workflow.public,
        "is_valid": workflow.is_valid,
        "steps": len(definition.get("steps", [])),
        "updated_at": _iso(workflow.updated_at),
    }
    if full:
        latest = workflow.latest_version()
        webhook = Webhook.objects.filter(workflow=workflow).first()
        schedule = Schedule.objects.filter(workflow=workflow).first()
        data.update(
            definition=definition,
            problems=workflow.problems,
            latest_version=latest.number if latest else None,
            settings={
                "concurrency_limit": workflow.concurrency_limit,
                "rate_limit_per_minute": workflow.rate_limit_per_minute,
                "timeout_seconds": workflow.timeout_seconds,
                "retention_days": workflow.retention_days,
                "max_payload_bytes": workflow.max_payload_bytes,
            },
            webhook=(
                {
                    "enabled": webhook.enabled,
                    "token_prefix": webhook.token_prefix,
                    "methods": webhook.methods,
                    "respond": webhook.respond,
                    "signed": bool(webhook.signature_credential),
                }
                if webhook
                else None
            ),
            schedule=(
                {"enabled": schedule.enabled, "cron": schedule.cron, "timezone": schedule.timezone}
                if schedule
                else None
            ),
        )
    return data


def execution_data(execution: Execution) -> dict[str, Any]:
    """An execution without its step runs (lists stay light)."""
    return {
        "id": execution.pk,
        "workflow_id": execution.workflow_id,
        "project_id": execution.project_id,
        "version": execution.version.number if execution.version_id and execution.version else None,
        "status": execution.status,
        "finished": execution.status in FINISHED,
        "trigger": execution.trigger,
        "inputs": execution.inputs,
        "outputs": execution.outputs,
        "error": execution.error,
        "created_at": _iso(execution.created_at),
        "started_at": _iso(execution.started_at),
        "finished_at": _iso(execution.finished_at),
        "duration_ms": execution.duration_ms,
    }


def step_run_data(row: StepRun) -> dict[str, Any]:
    return {
        "id": row.pk,
        "step": row.step,
        "item": row.item,
        "items": row.items,
        "attempt": row.attempt,
        "status": row.status,
        "reused": row.reused,
        "inputs": row.inputs,
        "outputs": row.outputs,
        "logs": row.logs,
        "error": row.error,
        "started_at": _iso(row.started_at),
        "finished_at": _iso(row.finished_at),
        "next_attempt_at": _iso(row.next_attempt_at),
        "duration_ms": row.duration_ms,
    }


_ACTIVE_ORDER = (StepStatus.RUNNING, StepStatus.QUEUED, StepStatus.WAITING, StepStatus.PENDING)


def _step_status(latest: list[StepRun]) -> str:
    """One status for a step from the latest attempt of each of its items."""
    statuses = {row.status for row in latest}
    if not statuses:
        return StepStatus.PENDING
    if len(latest) < max(row.items for row in latest) or not statuses <= STEP_DONE:
        return next((s for s in _ACTIVE_ORDER if s in statuses), StepStatus.QUEUED)
    for final in (StepStatus.FAILED, StepStatus.TIMED_OUT, StepStatus.CANCELLED):
        if final in statuses:
            return final
    return StepStatus.SKIPPED if statuses == {StepStatus.SKIPPED} else StepStatus.SUCCEEDED


def step_summaries(execution: Execution, rows: list[StepRun]) -> list[dict[str, Any]]:
    """Each step of the plan, in order: its status, and whether it is settled (done for good)."""
    latest: dict[str, dict[int, StepRun]] = {}
    for row in sorted(rows, key=lambda r: (r.attempt, r.pk)):
        latest.setdefault(row.step, {})[row.item] = row
    summaries = []
    for step in (execution.plan or {}).get("steps", []):
        items = list(latest.get(step["id"], {}).values())
        status = _step_status(items)
        errors = [row.error for row in items if row.error and row.status != StepStatus.SUCCEEDED]
        summaries.append(
            {
                "id": step["id"],
                "status": status,
                "settled": status in STEP_DONE,
                "items": max((row.items for row in items), default=1),
                "attempts": max((row.attempt for row in items), default=0),
                "error": errors[0] if errors else None,
            }
        )
    return summaries


@cloud_function("listWorkflows", params={"project_id": serializers.IntegerField()})
def list_workflows(call: Call, project_id: int) -> Result:
    """The workflows of a project the caller is a member of."""
    project = _projects(call).get(pk=project_id)
    require_permission(project, call.user, Permission.VIEW)
    return Result([workflow_data(w) for w in project.workflows.order_by("name", "id")])


@cloud_function("loadWorkflow", params={"id": serializers.IntegerField()})
def load_workflow(call: Call, id: int) -> Result:
    """One workflow with its draft, problems, settings and triggers (never the webhook's token)."""
    return Result(workflow_data(_workflow(call, id), full=True))


@cloud_function(
    "listWorkflowExecutions",
    params={
        "workflow_id": serializers.IntegerField(required=False),
        "project_id": serializers.IntegerField(required=False),
        "status": serializers.ChoiceField(choices=Status.choices, required=False),
    },
)
def list_workflow_executions(
    call: Call, workflow_id: int | None = None, project_id: int | None = None, status: str | None = None
) -> Result:
    """The latest 50 executions of a workflow, or of a project (one of the two is required)."""
    if workflow_id is None and project_id is None:
        raise CloudError(
            "invalid parameters: workflow_id",
            code="invalid_params",
            errors={"workflow_id": ["workflow_id or project_id is required"]},
        )
    executions = Execution.objects.select_related("version")
    if workflow_id is not None:
        executions = executions.filter(workflow=_workflow(call, workflow_id))
    if project_id is not None:
        executions = executions.filter(project=_projects(call).get(pk=project_id))
    if status:
        executions = executions.filter(status=status)
    return Result([execution_data(e) for e in executions.order_by("-created_at", "-id")[:LIST_LIMIT]])


@cloud_function("getWorkflowExecution", params={"id": serializers.IntegerField()}, publishable=True)
def get_workflow_execution(call: Call, id: int) -> Result:
    """One execution with a summary per step and every step run (attempts, logs, errors).

    A publishable key reads only the executions it started."""
    executions = Execution.objects.select_related("version")
    if call.api_key is not None and call.api_key.kind == ApiKeyKind.PUBLISHABLE:
        execution = executions.get(pk=id, api_key=call.api_key)
    else:
        execution = executions.get(pk=id, project__in=_projects(call))
    rows = list(StepRun.objects.filter(execution=execution).order_by("id"))
    data = execution_data(execution)
    data["steps"] = step_summaries(execution, rows)
    data["step_runs"] = [step_run_data(row) for row in rows]
    return Result(data)
