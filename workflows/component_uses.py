"""The workflows that use a component, for ``components.usage`` (registered in ``WorkflowsConfig.ready``).

A workflow's latest published version is what its triggers, schedules and API calls run: when it
uses the component, deleting the component would make every run fail ("no component N in this
project"), so that use blocks the deletion. The draft and older versions only warn: the draft
shows a problem until the step is replaced, and an older version runs only when asked for by number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.urls import reverse

from components.usage import Use, uses_finder
from workflows.models import Workflow, WorkflowVersion

if TYPE_CHECKING:
    from components.models import Component


def _calls(definition: Any, component_id: int) -> bool:
    steps = definition.get("steps") if isinstance(definition, dict) else None
    return any(isinstance(step, dict) and step.get("component") == component_id for step in steps or [])


@uses_finder("workflows")
def workflows_using(component: Component) -> list[Use]:
    """One ``Use`` per workflow of the component's project whose draft or versions call it (two queries)."""
    versions: dict[int, list[tuple[int, Any]]] = {}
    rows = WorkflowVersion.objects.filter(workflow__project_id=component.project_id).order_by("workflow_id", "-number")
    for workflow_id, number, definition in rows.values_list("workflow_id", "number", "definition"):
        versions.setdefault(workflow_id, []).append((number, definition))
    found = []
    workflows = Workflow.objects.filter(project_id=component.project_id).order_by("name", "id")
    for pk, name, draft in workflows.values_list("pk", "name", "definition"):
        mine = versions.get(pk, [])
        latest = bool(mine) and _calls(mine[0][1], component.pk)
        older = [number for number, definition in mine[1:] if _calls(definition, component.pk)]
        parts = [f"published version {mine[0][0]}, the one that runs"] if latest else []
        if _calls(draft, component.pk):
            parts.append("the draft")
        if older:
            parts.append(f"older version{'s' if len(older) > 1 else ''} {', '.join(map(str, sorted(older)))}")
        if parts:
            url = reverse("workflows_editor", args=[pk])
            found.append(Use(kind="workflow", id=pk, name=name, url=url, where=" and ".join(parts), blocking=latest))
    return found
