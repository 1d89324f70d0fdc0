"""The Editor tab: the visual editor page and the JSON endpoints its script calls.

* ``POST /workflows/<id>/definition/`` saves the whole draft (``workflow_update``) and answers
  with its problems, the steps' interfaces and the binding candidates (``editor_data``), plus what
  each step's ``for_each`` and ``run_if`` may read (``condition_candidates``: the canvas's picker);
* ``POST /workflows/<id>/publish/`` freezes the draft (``workflow_publish``), or lists its problems;
* ``POST /workflows/<id>/run/`` starts the draft (``execution_start``, trigger ``editor``); the
  page then follows it through ``executions.execution_progress``.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.models import Permission
from accounts.views.access import signed_in
from components.errors import RunError
from workflows import definition as definitions
from workflows import runs, services
from workflows.models import Trigger, Workflow
from workflows.services import interfaces_for
from workflows.views.access import error_messages, member_workflow
from workflows.views.editor_data import catalog, editor_state, sources, type_choices
from workflows.views.tabs import tab_context


def _json_body(request: HttpRequest) -> Any:
    """The request's JSON body; ``ValueError`` when it is not JSON."""
    return json.loads(request.body or b"null")


def _bad_request(errors: dict[str, list[str]]) -> JsonResponse:
    return JsonResponse({"errors": errors}, status=400)


# What the canvas's typed picker offers when a step is dragged onto another's "each" or "if" target:
# a for_each needs a list (json may hold one), a run_if reads a yes/no (json may hold one).
CONDITION_TYPES = {"for_each": ("list", "json"), "run_if": ("bool", "json")}


def condition_candidates(workflow: Workflow) -> dict[str, dict[str, list[dict[str, str]]]]:
    """``{step: {"for_each": [{value, label, group}], "run_if": [...]}}``: the sources (workflow inputs,
    outputs of steps that are not downstream) whose type fits, with the same values and labels as the
    binding candidates (``editor_data.sources``)."""
    parsed = definitions.parse(workflow.definition)
    interfaces = interfaces_for(workflow.project, parsed)
    found: dict[str, dict[str, list[dict[str, str]]]] = {}
    for step in parsed.steps:
        available = sources(parsed, interfaces, exclude={step.id, *parsed.dependents(step.id)})
        found[step.id] = {
            field: [source.as_option() for source in available if source.spec.get("type") in types]
            for field, types in CONDITION_TYPES.items()
        }
    return found


def _state(workflow: Workflow) -> dict[str, Any]:
    return {**editor_state(workflow), "conditions": condition_candidates(workflow)}


@login_required
@require_GET
def workflow_editor(request: HttpRequest, pk: int) -> HttpResponse:
    workflow, membership = member_workflow(request, pk, Permission.VIEW)
    context = tab_context(workflow, membership, "editor")
    context["editor_config"] = {
        "id": workflow.pk,
        "canEdit": context["can_edit"],
        "types": type_choices(),
        "catalog": catalog(workflow),
        "state": _state(workflow),
        "saveUrl": reverse("workflows_definition", args=[workflow.pk]),
        "publishUrl": reverse("workflows_publish", args=[workflow.pk]),
        "runUrl": reverse("workflows_run", args=[workflow.pk]),
        "installUrl": reverse("api-connector-install", args=["__name__"]),
        "forkUrl": reverse("api-marketplace-component-fork", args=[0]).replace("/0/", "/__id__/"),
        "projectId": workflow.project_id,
    }
    context["versions"] = workflow.versions.order_by("-number")
    return render(request, "workflows/editor.html", context)


@login_required
@require_POST
def workflow_definition(request: HttpRequest, pk: int) -> JsonResponse:
    """Save the draft: ``{"definition": {...}}`` or the definition itself (without ``defaults``, the
    saved ones are kept). 400 ``{"errors": {field: [...]}}`` for a definition of the wrong shape; a
    draft with problems is saved, and the answer lists them (``editor_data.editor_state``)."""
    workflow, _ = member_workflow(request, pk, Permission.EDIT)
    try:
        data = _json_body(request)
    except ValueError:
        return _bad_request({"definition": ["the body is not JSON"]})
    if isinstance(data, dict) and set(data) == {"definition"}:
        data = data["definition"]
    if isinstance(data, dict) and "defaults" not in data:
        # The editor leaves the defaults (retry, timeout) to the Settings tab: keep the saved ones.
        data = {**data, "defaults": (workflow.definition or {}).get("defaults") or {}}
    try:
        services.workflow_update(workflow=workflow, actor=signed_in(request), definition=data)
    except ValidationError as error:
        return _bad_request(error_messages(error))
    return JsonResponse(_state(workflow))


@login_required
@require_POST
def workflow_publish(request: HttpRequest, pk: int) -> JsonResponse:
    """Publish the saved draft as the next version, with ``changelog``; 400 with the problems."""
    workflow, _ = member_workflow(request, pk, Permission.EDIT)
    try:
        data = _json_body(request) if request.content_type == "application/json" else request.POST
    except ValueError:
        return _bad_request({"changelog": ["the body is not JSON"]})
    changelog = data.get("changelog", "") if hasattr(data, "get") else ""
    if not isinstance(changelog, str):
        return _bad_request({"changelog": ["a line of text"]})
    try:
        version = services.workflow_publish(workflow=workflow, actor=signed_in(request), changelog=changelog)
    except ValidationError as error:
        problems = Workflow.objects.values_list("problems", flat=True).get(pk=workflow.pk)
        return JsonResponse({"errors": error_messages(error), "problems": problems}, status=400)
    return JsonResponse({"number": version.number, "changelog": version.changelog}, status=201)


@login_required
@require_GET
def workflow_versions(request: HttpRequest, pk: int) -> HttpResponse:
    """The version list alone, fetched again when the workflow changes (``loadWorkflow``)."""
    workflow, membership = member_workflow(request, pk, Permission.VIEW)
    context = {**tab_context(workflow, membership, "editor"), "versions": workflow.versions.order_by("-number")}
    return render(request, "workflows/partials/versions.html", context)


@login_required
@require_POST
def workflow_run(request: HttpRequest, pk: int) -> JsonResponse:
    """Start the saved draft with the posted inputs (editors only, as everywhere: viewers get 105).
    202 ``{id, status, url, progress_url}``, or the run error's body and status (101, 102, 105, 108)."""
    workflow, _ = member_workflow(request, pk, Permission.VIEW)  # outsiders: 404
    try:
        inputs = _json_body(request)
    except ValueError:
        inputs = "not JSON"
    if inputs is None:
        inputs = {}
    if not isinstance(inputs, dict):
        return JsonResponse({"code": 101, "message": "the inputs are a JSON object"}, status=400)
    try:
        execution = runs.execution_start(
            workflow=workflow, inputs=inputs, trigger=Trigger.EDITOR, version=runs.DRAFT, user=signed_in(request)
        )
    except RunError as error:
        return JsonResponse(error.as_dict(), status=error.http_status)
    return JsonResponse(
        {
            "id": execution.pk,
            "status": execution.status,
            "url": reverse("workflows_execution", args=[execution.pk]),
            "progress_url": reverse("workflows_execution_progress", args=[execution.pk]),
        },
        status=202,
    )
