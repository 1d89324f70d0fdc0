"""Every write to components and their versions goes through one of these (runs: ``components/runs.py``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import Permission, Project, User
from accounts.services import member_ids, require_permission
from components.models import Component, ComponentVersion, Kind
from components.types import validate_interface
from components.usage import require_unused
from synchronise.lib.events import publish_change

EDITABLE_FIELDS = (
    "name",
    "description",
    "tags",
    "icon",
    "public",
    "kind",
    "inputs",
    "outputs",
    "code",
    "http",
    "builtin",
)
IMPLEMENTATION_FIELDS = ("kind", "inputs", "outputs", "code", "http", "builtin")
MAX_CODE_BYTES = 200_000


def syntax_error(code: str) -> dict[str, Any] | None:
    """Where the code fails to parse (``{line, col, message}``), or ``None``. Nothing is executed."""
    try:
        compile(code, "<component>", "exec", dont_inherit=True)
    except SyntaxError as error:
        return {"line": error.lineno or 1, "col": error.offset or 1, "message": error.msg}
    except ValueError as error:  # e.g. null bytes
        return {"line": 1, "col": 1, "message": str(error)}
    return None


def _clean(component: Component, changes: dict[str, Any]) -> None:
    """Validate the changed fields in place; raises ``ValidationError`` naming each bad field."""
    errors: dict[str, list[str]] = {}
    if "name" in changes and not str(changes["name"]).strip():
        errors["name"] = ["a component needs a name"]
    if "tags" in changes and (
        not isinstance(changes["tags"], list) or not all(isinstance(t, str) and t for t in changes["tags"])
    ):
        errors["tags"] = ["a list of words"]
    if "kind" in changes and changes["kind"] not in Kind.values:
        errors["kind"] = [f"one of {', '.join(Kind.values)}"]
    for field in ("inputs", "outputs"):
        if field in changes:
            try:
                changes[field] = validate_interface(changes[field], field=field)
            except ValidationError as error:
                errors.update(error.message_dict)
    code = changes.get("code", "")
    if not isinstance(code, str) or len(code.encode()) > MAX_CODE_BYTES:
        errors["code"] = [f"text of at most {MAX_CODE_BYTES} bytes"]
    if changes.get("http"):
        from components.http_component import validate_http_spec

        try:
            changes["http"] = validate_http_spec(
                changes["http"],
                inputs=changes.get("inputs", component.inputs),
                outputs=changes.get("outputs", component.outputs),
            )
        except ValidationError as error:
            errors["http"] = error.messages
    if errors:
        raise ValidationError(errors)


def _refuse_hidden_implementation(component: Component, changes: dict[str, Any]) -> None:
    """A closed-source fork's implementation is not theirs to read, so not to edit either: it
    changes only through ``components.marketplace.services.fork_update``."""
    from components.marketplace.models import code_hidden

    touched = [f for f in IMPLEMENTATION_FIELDS if f in changes and changes[f] != getattr(component, f)]
    if touched and code_hidden(component):
        raise ValidationError(dict.fromkeys(touched, "a closed-source marketplace component cannot be changed"))


def _publish(component: Component, *, deleted: bool = False) -> None:
    recipients = member_ids(component.project)
    room = "deleteComponent" if deleted else "createOrUpdateComponent"
    publish_change(room, filters={"id": component.pk, "project_id": component.project_id}, recipients=recipients)


@transaction.atomic
def component_create(*, project: Project, actor: User, name: str, **fields: Any) -> Component:
    """A new component in the project (needs ``edit``); its draft starts from ``fields``."""
    require_permission(project, actor, Permission.EDIT)
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "unknown field"))
    fields = {"name": name, **fields}
    component = Component(project=project, created_by=actor)
    _clean(component, fields)
    for field, value in fields.items():
        setattr(component, field, value)
    component.full_clean()
    component.save()
    _publish(component)
    return component


@transaction.atomic
def component_update(*, component: Component, actor: User, **changes: Any) -> Component:
    """Change the draft and settings (needs ``edit``). Saving code with a syntax error is allowed —
    the draft keeps what was typed — and the error comes back from ``syntax_error``."""
    require_permission(component.project, actor, Permission.EDIT)
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "unknown field"))
    _refuse_hidden_implementation(component, changes)
    _clean(component, changes)
    for field, value in changes.items():
        setattr(component, field, value)
    component.full_clean()
    component.save()
    _publish(component)
    return component


@transaction.atomic
def component_publish(*, component: Component, actor: User, changelog: str = "") -> ComponentVersion:
    """Freeze the draft as the next version (needs ``edit``); code must parse."""
    require_permission(component.project, actor, Permission.EDIT)
    component = Component.objects.select_for_update().get(pk=component.pk)
    if component.kind == Kind.CODE:
        error = syntax_error(component.code)
        if error:
            raise ValidationError({"code": [f"line {error['line']}, column {error['col']}: {error['message']}"]})
    latest = component.versions.order_by("-number").values_list("number", flat=True).first() or 0
    version = ComponentVersion.objects.create(
        component=component,
        number=latest + 1,
        changelog=changelog[:500],
        created_by=actor,
        **{field: getattr(component, field) for field in IMPLEMENTATION_FIELDS},
    )
    _publish(component)
    return version


def _rebased(http: dict[str, Any], base_url: str) -> dict[str, Any]:
    """The spec with its base URL swapped for the test stand-in ``settings.CONNECTOR_BASE_URLS``
    names (tests only; empty otherwise, so the spec is installed as shipped)."""
    stand_in = settings.CONNECTOR_BASE_URLS.get(base_url) if base_url else None
    url = http.get("url", "")
    if not stand_in or not url.startswith(base_url):
        return http
    return {**http, "url": stand_in.rstrip("/") + url[len(base_url.rstrip("/")) :]}


@transaction.atomic
def connector_install(*, project: Project, actor: User, name: str) -> tuple[Component, bool]:
    """The project's copy of an official connector (needs ``edit``), published, and whether it was
    installed just now; a project that has one already gets it back (``components/connectors``)."""
    from components import connectors

    require_permission(project, actor, Permission.EDIT)
    connector = connectors.get(name)
    if connector is None:
        raise ValidationError({"connector": [f"no official connector named {name!r}"]})
    Project.objects.select_for_update().filter(pk=project.pk).first()  # two installs at once make one copy
    installed = Component.objects.filter(project=project, connector=name, versions__isnull=False).first()
    if installed is not None:
        return installed, False
    implementation: dict[str, Any] = (
        {"kind": Kind.CODE, "code": connector.code}
        if connector.kind == Kind.CODE
        else {"kind": Kind.HTTP, "http": _rebased(connector.http, connector.base_url)}
    )
    component = component_create(
        project=project,
        actor=actor,
        name=connector.title,
        description=connector.description,
        tags=connector.tags,
        icon=connector.icon,
        inputs=connector.inputs,
        outputs=connector.outputs,
        **implementation,
    )
    component.connector = name
    component.save(update_fields=["connector"])
    component_publish(component=component, actor=actor, changelog=f"Installed from the official connector {name}")
    return component, True


@transaction.atomic
def component_duplicate(*, component: Component, actor: User, name: str | None = None) -> Component:
    """A copy of the component's draft and settings, in the same project (needs ``edit``); a
    closed-source fork cannot be copied (the copy would show its code)."""
    from components.marketplace.models import code_hidden

    if code_hidden(component):
        raise ValidationError({"component": ["a closed-source marketplace component cannot be copied"]})
    fields = {field: getattr(component, field) for field in EDITABLE_FIELDS if field != "name"}
    return component_create(project=component.project, actor=actor, name=name or f"{component.name} (copy)", **fields)


@transaction.atomic
def component_delete(*, component: Component, actor: User) -> None:
    """Delete the component, its versions and its executions (needs ``edit``). Raises
    ``components.usage.ComponentInUse`` while a workflow's latest published version uses it."""
    require_permission(component.project, actor, Permission.EDIT)
    require_unused(component)
    _publish(component, deleted=True)
    component.delete()
