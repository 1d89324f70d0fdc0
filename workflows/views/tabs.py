"""The Settings, Triggers and Export tabs of a workflow."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from accounts.authentication import PUBLIC_KEY_HEADER
from accounts.models import Membership, Permission
from accounts.views.access import signed_in
from accounts.views.keys import publishable_key_of
from workflows import triggers
from workflows.forms import WorkflowSettingsForm
from workflows.models import Schedule, Webhook, Workflow
from workflows.trigger_api import WebhookSerializer
from workflows.views.access import can_edit, error_messages, member_workflow

PREVIEWS = 5


def tab_context(workflow: Workflow, membership: Membership, tab: str) -> dict[str, Any]:
    """What every tab of a workflow shows in its header."""
    return {
        "workflow": workflow,
        "project": workflow.project,
        "membership": membership,
        "can_edit": can_edit(membership),
        "tab": tab,
    }


@login_required
@require_http_methods(["GET", "POST"])
def workflow_settings(request: HttpRequest, pk: int) -> HttpResponse:
    needed = Permission.EDIT if request.method == "POST" else Permission.VIEW
    workflow, membership = member_workflow(request, pk, needed)
    context = tab_context(workflow, membership, "settings")
    form = WorkflowSettingsForm(
        request.POST or None, initial=WorkflowSettingsForm.initial_of(workflow), read_only=not context["can_edit"]
    )
    if request.method == "POST" and form.is_valid() and form.save(workflow=workflow, actor=signed_in(request)):
        messages.success(request, "Settings saved.")
        return redirect("workflows_settings", workflow.pk)
    return render(request, "workflows/settings.html", {**context, "form": form}, status=400 if form.errors else 200)


@login_required
@require_GET
def workflow_triggers(request: HttpRequest, pk: int) -> HttpResponse:
    """The webhook and schedule of the workflow: the page script reads and changes them through
    the API (``/api/v1/workflows/<id>/webhook`` and ``/schedule``) with the session."""
    workflow, membership = member_workflow(request, pk, Permission.VIEW)
    context = tab_context(workflow, membership, "triggers")
    context["triggers_config"] = {
        "workflowId": workflow.pk,
        "webhookUrl": reverse("workflow_webhook_settings", args=[workflow.pk]),
        "rotateUrl": reverse("workflow_webhook_rotate", args=[workflow.pk]),
        "scheduleUrl": reverse("workflow_schedule", args=[workflow.pk]),
        "previewUrl": reverse("workflows_schedule_preview", args=[workflow.pk]),
        "hookBase": request.build_absolute_uri("/hooks/"),
        "canEdit": context["can_edit"],
        "inputs": (workflow.definition or {}).get("inputs", []),
        "credentials": list(workflow.project.credentials.order_by("name").values_list("name", flat=True)),
        # What the API's GETs would answer, so the page does not ask for a webhook or a schedule
        # that does not exist (two 404s in the console on every visit, issue 15).
        "webhook": _webhook_state(workflow),
        "schedule": _schedule_state(workflow),
    }
    return render(request, "workflows/triggers.html", context)


def _webhook_state(workflow: Workflow) -> dict[str, Any] | None:
    webhook = Webhook.objects.filter(workflow=workflow).first()
    return dict(WebhookSerializer(webhook).data) if webhook is not None else None


def _schedule_state(workflow: Workflow) -> dict[str, Any] | None:
    schedule = Schedule.objects.filter(workflow=workflow).first()
    return triggers.schedule_data(schedule) if schedule is not None else None


@login_required
@require_GET
def schedule_preview(request: HttpRequest, pk: int) -> JsonResponse:
    """``?cron=&timezone=`` → ``{description, next_runs}`` while the schedule is being typed
    (nothing is saved); 400 ``{"errors": {cron|timezone: [...]}}`` for what the schedule would refuse."""
    member_workflow(request, pk, Permission.VIEW)
    cron = request.GET.get("cron", "")
    zone = request.GET.get("timezone", "") or "UTC"
    try:
        runs = triggers.next_runs(cron, zone, PREVIEWS)
    except ValidationError as error:
        return JsonResponse({"errors": error_messages(error)}, status=400)
    return JsonResponse({"description": triggers.describe_cron(cron), "next_runs": [run.isoformat() for run in runs]})


def _example(spec: dict[str, Any]) -> object:
    return {"number": 1, "bool": True, "json": {}, "list": [], "date": "2026-01-01"}.get(spec["type"], "text")


@login_required
@require_GET
def workflow_export(request: HttpRequest, pk: int) -> HttpResponse:
    workflow, membership = member_workflow(request, pk, Permission.VIEW)
    key = publishable_key_of(workflow.project)
    example = {spec["name"]: _example(spec) for spec in (workflow.definition or {}).get("inputs", [])}
    context = tab_context(workflow, membership, "export")
    context.update(
        {
            "publishable": f"{key.prefix}…" if key else "pk_…",
            "has_key": key is not None,
            "has_version": workflow.versions.exists(),
            "base_url": request.build_absolute_uri("/").rstrip("/"),
            "run_path": reverse("api-workflow-run", args=[workflow.pk]),
            # A link asks for text/html: without ?format=json DRF would answer its browsable page.
            "export_path": reverse("api-workflow-export", args=[workflow.pk]) + "?format=json",
            "inputs_json": json.dumps(example),
            "legacy_json": json.dumps({"id": workflow.pk, **example}),
            "js_inputs": json.dumps(example),
            "python_inputs": repr(example),
            "header": PUBLIC_KEY_HEADER,
        }
    )
    return render(request, "workflows/export.html", context)
