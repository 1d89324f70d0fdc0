"""What the editor page needs to know besides the draft: the component catalog, each step's
interface, and for every step input and workflow output the sources it may be bound to.

Sources are offered only where ``workflows.definition.compatible`` says the types fit (for an
input that names credentials, only what ``workflows.secret_bindings`` allows), so the picker never
proposes a binding that validation would refuse; a hand-written expression can
still be anything, and ``Workflow.problems`` then says what is wrong with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components import connectors
from components.marketplace.models import Fork, Listing
from components.models import Component, ComponentVersion
from components.types import TYPES, carries_secrets, describe
from workflows import definition as definitions
from workflows.expressions import step_path
from workflows.models import Workflow
from workflows.secret_bindings import secret_binding_problem
from workflows.services import interfaces_for

ITEM = "{{ item }}"
MARKETPLACE_ENTRIES = 200  # the newest approvals; the catalog's search box filters them in the page


@dataclass(frozen=True)
class Source:
    """Something a binding can read: a workflow input, an output of another step, ``item``, a secret."""

    value: str  # the binding, e.g. "{{ steps.fetch.output.body }}"
    label: str  # what the picker shows, e.g. "fetch.body (json)"
    group: str
    spec: dict[str, Any]

    def as_option(self) -> dict[str, str]:
        return {"value": self.value, "label": self.label, "group": self.group}


def catalog(workflow: Workflow) -> list[dict[str, Any]]:
    """The "Add a step" list (two queries): the project's components, each with its published
    version numbers, newest first, and the interface of the newest (only components with a version
    may be added: ``latest`` is ``None`` for the others), then the official connectors the project
    has not installed (``id`` ``None``: the editor installs one when it is added), then the marketplace
    components it has not forked (``marketplace_entries``)."""
    versions: dict[int, list[ComponentVersion]] = {}
    published = (
        ComponentVersion.objects.filter(component__project_id=workflow.project_id)
        .only("id", "component_id", "number", "inputs", "outputs")
        .order_by("component_id", "-number")
    )
    for version in published:
        versions.setdefault(version.component_id, []).append(version)
    entries = []
    for component in Component.objects.filter(project_id=workflow.project_id).order_by("name", "id"):
        mine = versions.get(component.pk, [])
        shape = mine[0] if mine else component
        entries.append(
            {
                "id": component.pk,
                "name": component.name,
                "description": component.description,
                "kind": component.kind,
                "versions": [v.number for v in mine],
                "latest": mine[0].number if mine else None,
                "inputs": shape.inputs,
                "outputs": shape.outputs,
                "connector": component.connector,
            }
        )
    installed = {entry["connector"] for entry in entries if entry["latest"] is not None}
    for connector in connectors.catalog():
        if connector.name not in installed:
            entries.append({**connector.as_entry(), "id": None, "versions": [], "latest": None})
    return entries + marketplace_entries(workflow)


def marketplace_entries(workflow: Workflow) -> list[dict[str, Any]]:
    """The approved marketplace components the project has not forked yet (``id`` ``None``,
    ``listing`` set: the editor forks one into the project when it is added)."""
    forked = Fork.objects.filter(project_id=workflow.project_id).values("listing_id")
    listings = Listing.objects.public().exclude(pk__in=forked).exclude(project_id=workflow.project_id)
    entries = []
    for listing in listings.order_by("-approved_at", "-id")[:MARKETPLACE_ENTRIES]:
        version = listing.approved_version
        if version is None:  # public() says otherwise; the type does not know
            continue
        entries.append(
            {
                "id": None,
                "listing": listing.pk,
                "name": listing.name,
                "description": listing.description,
                "tags": list(listing.tags),
                "publisher": listing.project.name,
                "kind": version.kind,
                "versions": [],
                "latest": None,
                "inputs": version.inputs,
                "outputs": version.outputs,
                "connector": "",
            }
        )
    return entries


def _label(name: str, spec: dict[str, Any]) -> str:
    return f"{name} ({describe(spec)})"


def sources(parsed: definitions.Definition, interfaces: definitions.Interfaces, *, exclude: set[str]) -> list[Source]:
    found = [
        Source("{{ input.%s }}" % spec["name"], _label(f"input.{spec['name']}", spec), "Workflow inputs", spec)  # noqa: UP031 - the braces are the template's
        for spec in parsed.inputs
    ]
    for step in parsed.steps:
        interface = definitions.interface_of(interfaces, step)
        if step.id in exclude or interface is None:
            continue
        for spec in interface.outputs:
            # A for_each step collects one output per item, in order.
            typed = {"type": "list", "subtype": spec["type"]} if step.for_each else spec
            # An id may hold "-", which Jinja alone reads as a minus: such ids go in brackets.
            value = "{{ %s.output.%s }}" % (step_path(step.id), spec["name"])  # noqa: UP031
            found.append(Source(value, _label(f"{step.id}.{spec['name']}", typed), f"Step {step.id}", typed))
    return found


def _fits(source: Source, target: dict[str, Any]) -> bool:
    return definitions.compatible(source.spec, target)


def editor_state(workflow: Workflow) -> dict[str, Any]:
    """The draft as saved with its problems, each step's interface (``None``: the component is
    not in the project), and the binding candidates::

        {"definition": …, "problems": […],
         "interfaces": {step: {name, inputs, outputs, published} | None},
         "candidates": {"steps": {step: {input: [{value, label, group}]}}, "outputs": {name: […]}}}
    """
    parsed = definitions.parse(workflow.definition)
    interfaces = interfaces_for(workflow.project, parsed)
    secrets = [
        Source("{{ secrets.%s }}" % name, f"secrets.{name}", "Credentials", {"type": "secret"})  # noqa: UP031
        for name in workflow.project.credentials.order_by("name").values_list("name", flat=True)
    ]
    inputs = {spec["name"]: spec for spec in parsed.inputs}
    step_interfaces: dict[str, dict[str, Any] | None] = {}
    step_candidates: dict[str, dict[str, list[dict[str, str]]]] = {}
    for step in parsed.steps:
        interface = definitions.interface_of(interfaces, step)
        if interface is None:
            step_interfaces[step.id] = None
            continue
        step_interfaces[step.id] = {
            "name": interface.name,
            "inputs": interface.inputs,
            "outputs": interface.outputs,
            "published": interface.version_id is not None,
        }
        available = sources(parsed, interfaces, exclude={step.id, *parsed.dependents(step.id)})
        if step.for_each:
            available.append(Source(ITEM, "item (the current element)", "This step", {"type": "json"}))
        step_candidates[step.id] = {
            spec["name"]: [
                source.as_option()
                for source in (
                    # An input that names credentials takes only what secret_bindings allows
                    # (a credential, a workflow input that carries secrets), never data.
                    [s for s in [*secrets, *available] if secret_binding_problem("", spec, s.value, inputs) is None]
                    if carries_secrets(spec)
                    else [s for s in available if _fits(s, spec)]
                )
            ]
            for spec in interface.inputs
        }
    every = sources(parsed, interfaces, exclude=set())
    output_candidates = {
        output.name: [
            source.as_option()
            for source in every
            if not output.type or _fits(source, {"type": output.type, "subtype": output.subtype})
        ]
        for output in parsed.outputs
    }
    return {
        "definition": workflow.definition,
        "problems": workflow.problems,
        "interfaces": step_interfaces,
        "candidates": {"steps": step_candidates, "outputs": output_candidates},
    }


def type_choices() -> dict[str, list[str]]:
    """Each type with its subtypes, for the inputs bar and the outputs' type selects."""
    return {name: list(subtypes) for name, (_, subtypes) in TYPES.items()}
