"""Every write to workflows, their versions and triggers goes through one of these
(executions: ``workflows/runs.py``; the engine: ``workflows/engine.py``)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import Permission, Project, User
from accounts.services import member_ids, require_permission
from components.models import Component, ComponentVersion
from synchronise.lib.compiled import select_rows
from synchronise.lib.events import publish_change
from workflows import definition as definitions
from workflows.models import Workflow, WorkflowVersion

SETTINGS_FIELDS = (
    "name",
    "description",
    "public",
    "concurrency_limit",
    "rate_limit_per_minute",
    "timeout_seconds",
    "retention_days",
    "max_payload_bytes",
)
EDITABLE_FIELDS = (*SETTINGS_FIELDS, "definition")


def interfaces_for(project: Project, definition: definitions.Definition) -> dict[Any, definitions.Interface | None]:
    """Each step's ``(component, version)`` → the interface of that version (the latest published
    one when the step names none); ``None`` for a component that is not in ``project``."""
    wanted = {(step.component, step.version) for step in definition.steps}
    components = {c.pk: c for c in Component.objects.filter(project=project, pk__in={c for c, _ in wanted})}
    versions: dict[int, list[ComponentVersion]] = {}
    for version in ComponentVersion.objects.filter(component__in=components.values()).order_by("-number"):
        versions.setdefault(version.component_id, []).append(version)
    found: dict[Any, definitions.Interface | None] = {}
    for component_id, number in wanted:
        component = components.get(component_id)
        if component is None:
            found[(component_id, number)] = None
            continue
        candidates = versions.get(component_id, [])
        chosen = next((v for v in candidates if number is None or v.number == number), None)
        shape = chosen or component  # the draft's interface still lets the editor check bindings
        found[(component_id, number)] = definitions.Interface(
            inputs=shape.inputs, outputs=shape.outputs, version_id=chosen.pk if chosen else None, name=component.name
        )
    return found


def resolved_versions(project: Project, definition: definitions.Definition) -> tuple[tuple[int, int, int], ...]:
    """What each step's ``(component, version)`` resolves to now, as ``interfaces_for`` would
    resolve it, in one light query (no code, no schemas): ``(component, number or 0, version id)``,
    the id 0 for a component without that (or any) published version, -1 for one not in
    ``project``. A start compares it with the plan it has cached."""
    wanted = {(step.component, step.version) for step in definition.steps}
    components = sorted({c for c, _ in wanted})
    sentinels = [*range(-len(components), 0), 0]  # the ids, in order, then the project
    rows: list[list[Any]] = []
    if components:  # an empty IN () is no SQL
        rows = select_rows(  # on every start: compiled once per number of components
            f"resolved-versions-{len(components)}",
            lambda: (
                Component.objects.filter(project_id=0, pk__in=sentinels[:-1])
                .order_by()
                .values_list("pk", "versions__number", "versions__pk")
            ),
            sentinels,
            [*components, project.pk],
        )
    published: dict[int, dict[int, int]] = {}
    for component_id, published_number, published_id in rows:
        by_number = published.setdefault(component_id, {})
        if published_id is not None:
            by_number[published_number] = published_id
    resolved = []
    for component_id, number in wanted:
        versions = published.get(component_id)
        if versions is None:
            chosen = -1
        elif number is None:
            chosen = versions[max(versions)] if versions else 0
        else:
            chosen = versions.get(number, 0)
        resolved.append((component_id, number or 0, chosen))
    return tuple(sorted(resolved))


def check(project: Project, data: dict[str, Any]) -> tuple[dict[str, Any], list[definitions.Problem]]:
    """The cleaned definition and its problems; raises ``ValidationError`` for a wrong shape."""
    cleaned = definitions.clean(data)
    parsed = definitions.parse(cleaned)
    return cleaned, definitions.problems(parsed, interfaces_for(project, parsed))


def plan_for(project: Project, data: dict[str, Any]) -> dict[str, Any]:
    """The definition with each step's component version resolved (``version_id``), for an
    execution to pin. Raises ``ValidationError`` listing the problems of an invalid definition."""
    cleaned, found = check(project, data)
    if found:
        raise ValidationError({"definition": [_describe(problem) for problem in found]})
    parsed = definitions.parse(cleaned)
    interfaces = interfaces_for(project, parsed)
    for raw, step in zip(cleaned["steps"], parsed.steps, strict=True):
        interface = definitions.interface_of(interfaces, step)
        raw["version_id"] = interface.version_id if interface else None  # set: there are no problems
    return cleaned


def _describe(problem: definitions.Problem) -> str:
    where = f"{problem['step']}." if problem["step"] else ""
    return f"{where}{problem['field']}: {problem['message']}"


def _publish(workflow: Workflow, *, deleted: bool = False) -> None:
    room = "deleteWorkflow" if deleted else "createOrUpdateWorkflow"
    publish_change(
        room, filters={"id": workflow.pk, "project_id": workflow.project_id}, recipients=member_ids(workflow.project)
    )


def _apply(workflow: Workflow, changes: dict[str, Any]) -> None:
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "unknown field"))
    if "definition" in changes:
        changes["definition"], workflow.problems = check(workflow.project, changes["definition"])
    for field, value in changes.items():
        setattr(workflow, field, value)
    workflow.full_clean(exclude=["project", "created_by"])


@transaction.atomic
def workflow_create(*, project: Project, actor: User, name: str, **fields: Any) -> Workflow:
    """A new workflow in the project (needs ``edit``). An invalid definition is saved with its
    problems listed; a definition of the wrong shape raises ``ValidationError``."""
    require_permission(project, actor, Permission.EDIT)
    workflow = Workflow(project=project, created_by=actor)
    _apply(workflow, {"name": name, "definition": fields.pop("definition", {}), **fields})
    workflow.save()
    _publish(workflow)
    return workflow


@transaction.atomic
def workflow_update(*, workflow: Workflow, actor: User, **changes: Any) -> Workflow:
    """Change the draft and settings (needs ``edit``)."""
    require_permission(workflow.project, actor, Permission.EDIT)
    _apply(workflow, changes)
    workflow.save()
    _publish(workflow)
    return workflow


@transaction.atomic
def workflow_revalidate(*, workflow: Workflow) -> Workflow:
    """Recompute the draft's problems (its components may have changed)."""
    _, workflow.problems = check(workflow.project, workflow.definition)
    Workflow.objects.filter(pk=workflow.pk).update(problems=workflow.problems)
    return workflow


@transaction.atomic
def workflow_publish(*, workflow: Workflow, actor: User, changelog: str = "") -> WorkflowVersion:
    """Freeze the draft as the next version (needs ``edit``); refuses a draft with problems."""
    require_permission(workflow.project, actor, Permission.EDIT)
    workflow = Workflow.objects.select_for_update().get(pk=workflow.pk)
    cleaned, found = check(workflow.project, workflow.definition)
    if found:
        Workflow.objects.filter(pk=workflow.pk).update(problems=found)
        raise ValidationError({"definition": [_describe(problem) for problem in found]})
    latest = workflow.versions.values_list("number", flat=True).first() or 0
    version = WorkflowVersion.objects.create(
        workflow=workflow, number=latest + 1, definition=cleaned, changelog=changelog[:500], created_by=actor
    )
    _publish(workflow)
    return version


@transaction.atomic
def workflow_duplicate(*, workflow: Workflow, actor: User, name: str | None = None) -> Workflow:
    """A copy of the workflow's draft and settings, in the same project (needs ``edit``)."""
    fields = {field: getattr(workflow, field) for field in EDITABLE_FIELDS if field != "name"}
    return workflow_create(project=workflow.project, actor=actor, name=name or f"{workflow.name} (copy)", **fields)


@transaction.atomic
def workflow_delete(*, workflow: Workflow, actor: User) -> None:
    """Delete the workflow with its versions, triggers and executions (needs ``edit``)."""
    require_permission(workflow.project, actor, Permission.EDIT)
    _publish(workflow, deleted=True)
    schedule = getattr(workflow, "schedule", None)
    if schedule is not None and schedule.periodic_task_id:
        schedule.periodic_task.delete()
    workflow.delete()
