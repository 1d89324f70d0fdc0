"""Moving a workflow between projects and installations: export to a JSON document, import from one.

The document (``format: synchronise.workflow``, ``version: 1``)::

    {
      "format": "synchronise.workflow",
      "version": 1,
      "workflow": {"name": "…", "description": "…", "settings": {"timeout_seconds": 3600, …},
                   "definition": {"inputs": […], "steps": [{"id": "add", "component": "add", …}], "outputs": […]}},
      "components": [
        {"key": "add", "embedded": {"name": "Add", "description": "", "kind": "code", "inputs": […],
                                    "outputs": […], "code": "…", "http": {}, "builtin": "", "tags": [],
                                    "icon": "", "version": 3}},
        {"key": "weather", "ref": {"project": 7, "component": 12, "version": 2}}
      ],
      "credentials": ["WEATHER_KEY"]
    }

Each step's ``component`` is the ``key`` of an entry of ``components``; its ``version`` keeps its
meaning (a pinned number, or null for the latest). An embedded entry is the component version the
step runs (its draft if it was never published); a reference names a component that the import
resolves only inside the target project. ``credentials`` lists the names the document refers to
as ``{{ secrets.NAME }}``: values are never exported, and any credential value found in the
document (pasted into code, say) is masked.

Import checks the whole document before it writes, and writes in one transaction: an error
anywhere leaves nothing behind. Embedded components are created in the target project and
published; the steps are rewritten to their new ids.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify
from rest_framework import serializers

from accounts.models import Permission, Project, User
from accounts.services import require_permission
from components import credentials
from components import services as component_services
from components.marketplace.models import code_hidden
from components.models import Component, ComponentVersion, Kind
from workflows import definition as definitions
from workflows import services
from workflows.models import Workflow

FORMAT = "synchronise.workflow"
FORMAT_VERSION = 1
EMBEDDED = "embedded"
REFERENCE = "reference"
SETTINGS_FIELDS = (
    "public",
    "concurrency_limit",
    "rate_limit_per_minute",
    "timeout_seconds",
    "retention_days",
    "max_payload_bytes",
)
SECRET_REFERENCE = re.compile(r"\{\{\s*secrets\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
EMBEDDED_FIELDS = ("name", "description", "kind", "inputs", "outputs", "code", "http", "builtin", "tags", "icon")


# --- Export -----------------------------------------------------------------------------------


def workflow_export(*, workflow: Workflow, components: str = EMBEDDED, version: int | None = None) -> dict[str, Any]:
    """The document for the workflow's draft (or its published ``version``), its components
    embedded or by reference. Raises ``ValidationError`` naming what cannot be exported (an unknown
    version, a step whose component is not in the project)."""
    if components not in (EMBEDDED, REFERENCE):
        raise ValidationError({"components": [f"{EMBEDDED} or {REFERENCE}"]})
    if version is None:
        source = workflow.definition
    else:
        row = workflow.versions.filter(number=version).first()
        if row is None:
            raise ValidationError({"version": [f"the workflow has no version {version}"]})
        source = row.definition
    definition = copy.deepcopy(source) if isinstance(source, dict) else {}
    steps = [step for step in definition.get("steps") or [] if isinstance(step, dict)]
    wanted = {step.get("component") for step in steps}
    found = {
        component.pk: component
        for component in Component.objects.filter(project=workflow.project, pk__in=[c for c in wanted if c])
        .prefetch_related("versions")
        .order_by("pk")
    }
    entries: dict[tuple[int, int | None], dict[str, Any]] = {}
    keys: set[str] = set()
    problems: dict[str, list[str]] = {}
    for index, step in enumerate(steps):
        component = found.get(step.get("component"))  # type: ignore[arg-type]
        if component is None:
            problems[f"steps[{index}].component"] = [
                f"component {step.get('component')} is not in this project; fix the draft first"
            ]
            continue
        versions = sorted(component.versions.all(), key=lambda v: v.number, reverse=True)
        pinned = step.get("version")
        chosen = next((v for v in versions if pinned is None or v.number == pinned), None)
        if pinned is not None and chosen is None:
            problems[f"steps[{index}].version"] = [f"{component.name} has no version {pinned}"]
            continue
        number = chosen.number if chosen else None
        entry = entries.get((component.pk, number))
        if entry is None:
            entry = {"key": _unique_key(component.name, keys)}
            if components == EMBEDDED and code_hidden(component):
                problems[f"steps[{index}].component"] = [
                    f"{component.name} is closed source: export with the components by reference"
                ]
                continue
            if components == EMBEDDED:
                entry[EMBEDDED] = _embedded(component, chosen)
            else:
                entry["ref"] = {"project": workflow.project_id, "component": component.pk, "version": number}
            entries[(component.pk, number)] = entry
        step["component"] = entry["key"]
        step.pop("version_id", None)
    if problems:
        raise ValidationError(problems)
    document: dict[str, Any] = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "workflow": {
            "name": workflow.name,
            "description": workflow.description,
            "settings": {name: getattr(workflow, name) for name in SETTINGS_FIELDS},
            "definition": definition,
        },
        "components": list(entries.values()),
    }
    document["credentials"] = sorted(_secret_names(document))
    return _without_credential_values(workflow.project, document)


def _unique_key(name: str, taken: set[str]) -> str:
    base = slugify(name)[:60] or "component"
    key, n = base, 2
    while key in taken:
        key, n = f"{base}-{n}", n + 1
    taken.add(key)
    return key


def _embedded(component: Component, version: ComponentVersion | None) -> dict[str, Any]:
    """The implementation a step runs: the version, or the draft of a never-published component."""
    implementation: Component | ComponentVersion = version or component
    found = {name: copy.deepcopy(getattr(implementation, name)) for name in ("kind", "inputs", "outputs", "code")}
    found.update(http=copy.deepcopy(implementation.http), builtin=implementation.builtin)
    return {
        "name": component.name,
        "description": component.description,
        **found,
        "tags": list(component.tags or []),
        "icon": component.icon,
        "version": version.number if version else None,
    }


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _secret_names(value: Any) -> set[str]:
    return {name for text in _strings(value) for name in SECRET_REFERENCE.findall(text)}


def _without_credential_values(project: Project, document: dict[str, Any]) -> dict[str, Any]:
    """The document with every credential value of the project masked, wherever it was pasted."""
    try:
        values = credentials.credential_values(project=project)
    except credentials.CredentialError as error:
        raise ValidationError({"credentials": [f"cannot check that no credential is exported: {error}"]}) from None
    masked: dict[str, Any] = credentials.mask(document, values.values())
    return masked


# --- Import: the document's shape -------------------------------------------------------------


class RefSerializer(serializers.Serializer[Any]):
    project = serializers.IntegerField(min_value=1)
    component = serializers.IntegerField(min_value=1)
    version = serializers.IntegerField(min_value=1, allow_null=True, default=None)


class EmbeddedSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(allow_blank=True, default="", max_length=5000)
    kind = serializers.ChoiceField(choices=Kind.choices, default=Kind.CODE)
    inputs = serializers.ListField(child=serializers.JSONField(), default=list)
    outputs = serializers.ListField(child=serializers.JSONField(), default=list)
    code = serializers.CharField(allow_blank=True, default="", trim_whitespace=False)
    http = serializers.DictField(default=dict)
    builtin = serializers.CharField(allow_blank=True, default="", max_length=100)
    tags = serializers.ListField(child=serializers.CharField(), default=list)
    icon = serializers.CharField(allow_blank=True, default="", max_length=32)
    version = serializers.IntegerField(min_value=1, allow_null=True, default=None)


class EntrySerializer(serializers.Serializer[Any]):
    key = serializers.CharField(max_length=100)
    ref = RefSerializer(required=False)
    embedded = EmbeddedSerializer(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("ref" in attrs) == (EMBEDDED in attrs):
            raise serializers.ValidationError({"key": ["give either ref or embedded"]})
        return attrs


class WorkflowPartSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(allow_blank=True, default="", max_length=5000)
    settings = serializers.DictField(default=dict)
    definition = serializers.DictField(default=dict)

    def validate_settings(self, value: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(value) - set(SETTINGS_FIELDS))
        if unknown:
            raise serializers.ValidationError(f"unknown settings: {', '.join(unknown)}")
        return value


class DocumentSerializer(serializers.Serializer[Any]):
    format = serializers.CharField()
    version = serializers.IntegerField()
    workflow = WorkflowPartSerializer()
    components = EntrySerializer(many=True, default=list)
    credentials = serializers.ListField(child=serializers.CharField(), default=list)

    def validate_format(self, value: str) -> str:
        if value != FORMAT:
            raise serializers.ValidationError(f"not a workflow export (expected {FORMAT!r})")
        return value

    def validate_version(self, value: int) -> int:
        if value != FORMAT_VERSION:
            raise serializers.ValidationError(f"this server reads version {FORMAT_VERSION} of the format")
        return value

    def validate_components(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        keys = [entry["key"] for entry in value]
        twice = sorted({key for key in keys if keys.count(key) > 1})
        if twice:
            raise serializers.ValidationError(f"keys used twice: {', '.join(twice)}")
        return value


def _prefixed(prefix: str, error: ValidationError, *, settings: Iterable[str] = ()) -> dict[str, list[str]]:
    """A service's errors, keyed by where the value sits in the document."""
    if not hasattr(error, "error_dict"):
        return {prefix: error.messages}
    found = {}
    for name, messages in error.message_dict.items():
        if name == "__all__":
            found[prefix] = messages
        else:
            found[f"{prefix}.settings.{name}" if name in settings else f"{prefix}.{name}"] = messages
    return found


# --- Import -----------------------------------------------------------------------------------


@dataclass
class ImportResult:
    workflow: Workflow
    components: list[Component] = field(default_factory=list)
    missing_credentials: list[str] = field(default_factory=list)


def _parse(document: Any) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise ValidationError({"document": ["a JSON object made by the export"]})
    parsed = DocumentSerializer(data=document)
    if not parsed.is_valid():
        raise ValidationError(definitions.flatten_errors(parsed.errors, root="document"))
    data: dict[str, Any] = dict(parsed.validated_data)
    return data


def _check_steps(data: dict[str, Any]) -> dict[str, list[str]]:
    """Every step names an entry, and the definition has a definition's shape."""
    entries = {entry["key"] for entry in data["components"]}
    definition = copy.deepcopy(data["workflow"]["definition"])
    problems: dict[str, list[str]] = {}
    steps = definition.get("steps")
    for index, step in enumerate(steps if isinstance(steps, list) else []):
        if not isinstance(step, dict):
            continue
        key = step.get("component")
        if not isinstance(key, str) or key not in entries:
            problems[f"workflow.definition.steps[{index}].component"] = [
                f"{key!r} is not the key of an entry of components"
            ]
        else:
            step["component"] = 1  # stands in for the id the import will give it
    try:
        definitions.clean(definition)
    except ValidationError as error:
        for name, messages in error.message_dict.items():
            where = "workflow.definition" if name == "definition" else f"workflow.definition.{name}"
            problems.setdefault(where, []).extend(messages)
    return problems


def _check_refs(project: Project, data: dict[str, Any], used: set[str]) -> dict[str, list[str]]:
    """References resolve only to components of the target project (never another project's), and
    only when they were made there: an id from another project or installation means nothing here."""
    problems: dict[str, list[str]] = {}
    refs = {index: entry["ref"] for index, entry in enumerate(data["components"]) if "ref" in entry}
    refs = {index: ref for index, ref in refs.items() if data["components"][index]["key"] in used}
    found = {
        component.pk: component
        for component in Component.objects.filter(
            project=project, pk__in=[r["component"] for r in refs.values()]
        ).prefetch_related("versions")
    }
    for index, ref in refs.items():
        component = found.get(ref["component"]) if ref["project"] == project.pk else None
        where = f"components[{index}].ref"
        if component is None:
            problems[f"{where}.component"] = [
                f"component {ref['component']} (of project {ref['project']}) is not in the project "
                f"{project.name!r}; export the workflow with embedded components to copy it across"
            ]
        elif ref["version"] is not None and ref["version"] not in {v.number for v in component.versions.all()}:
            problems[f"{where}.version"] = [f"{component.name} has no version {ref['version']}"]
    return problems


def _used_keys(data: dict[str, Any]) -> set[str]:
    steps = data["workflow"]["definition"].get("steps") or []
    return {step["component"] for step in steps if isinstance(step, dict) and isinstance(step.get("component"), str)}


@transaction.atomic
def workflow_import(*, project: Project, actor: User, document: Any, name: str | None = None) -> ImportResult:
    """Create the document's workflow (as a draft, with its problems) in ``project``, creating and
    publishing its embedded components there (needs ``edit``).

    Raises ``ValidationError`` keyed by the path in the document (``components[1].embedded.code``,
    ``workflow.definition.steps[0].component``) and writes nothing when anything is wrong.
    """
    require_permission(project, actor, Permission.EDIT)
    data = _parse(document)
    used = _used_keys(data)
    problems = _check_steps(data) | _check_refs(project, data, used)
    for index, entry in enumerate(data["components"]):
        embedded = entry.get(EMBEDDED)
        if embedded and embedded["kind"] == Kind.CODE and entry["key"] in used:
            error = component_services.syntax_error(embedded["code"])
            if error:
                problems[f"components[{index}].embedded.code"] = [
                    f"line {error['line']}, column {error['col']}: {error['message']}"
                ]
    if problems:
        raise ValidationError(problems)

    # Everything below writes; an error rolls all of it back.
    result = ImportResult(workflow=Workflow())
    targets: dict[str, tuple[int, int | None]] = {}  # key → (component id, number of the version made)
    for index, entry in enumerate(data["components"]):
        if entry["key"] not in used:
            continue
        if "ref" in entry:
            targets[entry["key"]] = (entry["ref"]["component"], None)
            continue
        fields = {name: entry[EMBEDDED][name] for name in EMBEDDED_FIELDS}
        try:
            component = component_services.component_create(project=project, actor=actor, **fields)
            version = component_services.component_publish(component=component, actor=actor, changelog="imported")
        except ValidationError as error:
            problems.update(_prefixed(f"components[{index}].embedded", error))
            continue
        result.components.append(component)
        targets[entry["key"]] = (component.pk, version.number)
    if problems:
        raise ValidationError(problems)

    definition = copy.deepcopy(data["workflow"]["definition"])
    for step in definition.get("steps") or []:
        component_id, made = targets[step["component"]]
        step["component"] = component_id
        step.pop("version_id", None)  # resolved when an execution starts, never taken from a document
        if made is not None and step.get("version") is not None:
            step["version"] = made  # the pinned version, as numbered in the target project
    workflow_part = data["workflow"]
    try:
        result.workflow = services.workflow_create(
            project=project,
            actor=actor,
            name=name or workflow_part["name"],
            description=workflow_part["description"],
            definition=definition,
            **workflow_part["settings"],
        )
    except ValidationError as error:
        raise ValidationError(_prefixed("workflow", error, settings=SETTINGS_FIELDS)) from None
    names = set(project.credentials.values_list("name", flat=True))
    result.missing_credentials = sorted(_secret_names(document) - names)
    return result
