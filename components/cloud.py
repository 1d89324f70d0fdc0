"""Cloud functions of components, for the live parts of the UI (DESIGN.md §4)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from accounts.models import Project
from components.marketplace import cloud as marketplace_cloud  # noqa: F401 - registers its functions
from components.marketplace.models import code_hidden
from components.models import Component, Execution
from realtime.cloud import project_for
from realtime.registry import Call, Result, cloud_function
from realtime.wiring import register_default_wiring

register_default_wiring(
    "createOrUpdateComponent",
    [("loadComponent", {"id": {"filter": "id"}}), ("listComponents", {"project_id": {"filter": "project_id"}})],
)
register_default_wiring(
    "deleteComponent",
    [("loadComponent", {"id": {"filter": "id"}}), ("listComponents", {"project_id": {"filter": "project_id"}})],
)
register_default_wiring(
    "executionUpdate",
    [
        ("getExecution", {"id": {"filter": "id"}}),
        ("listExecutions", {"component_id": {"filter": "component_id"}}),
    ],
)


def _component(call: Call, component_id: int) -> Component:
    """A component of one of the caller's projects (404 otherwise, superusers included)."""
    component = Component.objects.select_related("project").get(
        pk=component_id, project__in=Project.objects.visible_to(call.user)
    )
    if call.api_key is not None and call.api_key.project_id != component.project_id:
        raise Component.DoesNotExist
    return component


def component_data(component: Component, *, full: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": component.pk,
        "project_id": component.project_id,
        "name": component.name,
        "description": component.description,
        "tags": component.tags,
        "icon": component.icon,
        "kind": component.kind,
        "public": component.public,
        "updated_at": component.updated_at.isoformat(),
    }
    if full:
        data.update(inputs=component.inputs, outputs=component.outputs, code=component.code, http=component.http)
        if code_hidden(component):  # a closed-source marketplace fork
            data.update(code=None, http=None)
    return data


def execution_data(execution: Execution) -> dict[str, Any]:
    return {
        "id": execution.pk,
        "component_id": execution.component_id,
        "status": execution.status,
        "trigger": execution.trigger,
        "inputs": execution.inputs,
        "outputs": execution.outputs,
        "logs": execution.logs,
        "error": execution.error,
        "created_at": execution.created_at.isoformat(),
        "duration_ms": execution.duration_ms,
    }


@cloud_function("listComponents", params={"project_id": serializers.IntegerField()})
def list_components(call: Call, project_id: int) -> Result:
    """The components of a project the caller is a member of."""
    project = project_for(call, project_id)  # a secret key of another project gets a 404, as in the API
    return Result([component_data(c) for c in project.components.order_by("name", "id")])


@cloud_function("loadComponent", params={"id": serializers.IntegerField()})
def load_component(call: Call, id: int) -> Result:
    """One component with its draft."""
    return Result(component_data(_component(call, id), full=True))


@cloud_function("listExecutions", params={"component_id": serializers.IntegerField()})
def list_executions(call: Call, component_id: int) -> Result:
    """The latest 50 runs of a component."""
    component = _component(call, component_id)
    return Result([execution_data(e) for e in component.executions.order_by("-created_at", "-id")[:50]])


@cloud_function("getExecution", params={"id": serializers.IntegerField()})
def get_execution(call: Call, id: int) -> Result:
    """One run, with its logs."""
    execution = Execution.objects.select_related("component").get(pk=id)
    _component(call, execution.component_id)
    return Result(execution_data(execution))
