"""A workflow's definition: its typed inputs, steps and mapped outputs; parsing and validation.

Stored as JSON (``Workflow.definition``, ``WorkflowVersion.definition``)::

    {
      "inputs":  [{"name": "city", "type": "text"}],
      "steps": [
        {"id": "weather", "component": 12, "version": 3,
         "inputs": {"city": "{{ input.city }}", "key": "{{ secrets.WEATHER_KEY }}"},
         "after": [], "run_if": "", "for_each": "", "parallelism": 10,
         "retry": {"attempts": 3, "backoff": 1, "factor": 2, "max_delay": 60, "jitter": true,
                   "on_codes": [429, 502, 503, 504]},
         "timeout": 20, "on_error": "fail", "position": {"x": 0, "y": 0}}
      ],
      "outputs": [{"name": "temperature", "type": "number", "value": "{{ steps.weather.output.temp }}"}],
      "defaults": {"retry": {...}, "timeout": 20}
    }

``parse`` checks the shape (a draft with the wrong shape cannot be saved: ``ValidationError``
naming the field); ``problems`` checks the meaning against the project's components (unknown
steps and outputs, type mismatches, cycles, missing required inputs). A draft with problems can
be saved but not published or run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypedDict

from django.core.exceptions import ValidationError
from rest_framework import serializers

from components.types import TYPES, Invalid, carries_secrets, default_subtype, describe, validate_interface
from workflows.expressions import SECRET_BINDING, TemplateProblem, is_expression, references, step_path, whole_reference
from workflows.secret_bindings import secret_binding_problem

STEP_ID = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
MAX_STEPS = 200
WORKER_LOST = 125  # error code of an attempt whose worker died (see docs/workflows.md)
DEFAULT_RETRY_CODES = (109, 123, WORKER_LOST, 429, 500, 502, 503, 504)
ON_ERROR = ("fail", "continue")
NO_STEPS = "add at least one step: a workflow without steps has nothing to run"


class Problem(TypedDict):
    step: str | None
    field: str
    message: str


# --- Shape -----------------------------------------------------------------------------------


class RetrySerializer(serializers.Serializer):
    attempts = serializers.IntegerField(min_value=1, max_value=20, default=1)
    backoff = serializers.FloatField(min_value=0, max_value=3600, default=1.0)
    factor = serializers.FloatField(min_value=1, max_value=10, default=2.0)
    max_delay = serializers.FloatField(min_value=0, max_value=86400, default=60.0)
    jitter = serializers.BooleanField(default=True)
    on_codes = serializers.ListField(
        child=serializers.IntegerField(min_value=100, max_value=100_000), default=list(DEFAULT_RETRY_CODES)
    )


class StepSerializer(serializers.Serializer):
    id = serializers.RegexField(STEP_ID, error_messages={"invalid": "lower-case letters, digits, - and _"})
    component = serializers.IntegerField(min_value=1)
    version = serializers.IntegerField(min_value=1, allow_null=True, default=None)
    inputs = serializers.DictField(default=dict)
    after = serializers.ListField(child=serializers.CharField(max_length=64), default=list)
    run_if = serializers.CharField(allow_blank=True, default="", max_length=2000, trim_whitespace=False)
    for_each = serializers.CharField(allow_blank=True, default="", max_length=2000, trim_whitespace=False)
    parallelism = serializers.IntegerField(min_value=1, max_value=100, default=10)
    retry = RetrySerializer(required=False, allow_null=True, default=None)
    timeout = serializers.FloatField(min_value=0.1, max_value=3600, allow_null=True, default=None)
    on_error = serializers.CharField(max_length=64, default="fail")
    position = serializers.DictField(child=serializers.FloatField(), default=dict)


class OutputSerializer(serializers.Serializer):
    name = serializers.RegexField(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
    value = serializers.JSONField()
    type = serializers.ChoiceField(choices=list(TYPES), required=False)
    subtype = serializers.CharField(required=False, allow_blank=True)
    optional = serializers.BooleanField(default=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=500)


class DefaultsSerializer(serializers.Serializer):
    retry = RetrySerializer(required=False, default=None, allow_null=True)
    timeout = serializers.FloatField(min_value=0.1, max_value=3600, allow_null=True, default=None)


class DefinitionSerializer(serializers.Serializer):
    inputs = serializers.ListField(child=serializers.JSONField(), default=list)
    steps = StepSerializer(many=True, default=list)
    outputs = OutputSerializer(many=True, default=list)
    defaults = DefaultsSerializer(default=dict)

    def validate_inputs(self, value: Any) -> list[dict[str, Any]]:
        try:
            return validate_interface(value, field="inputs")
        except ValidationError as error:
            raise serializers.ValidationError(error.message_dict["inputs"]) from None

    def validate_steps(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if len(value) > MAX_STEPS:
            raise serializers.ValidationError(f"at most {MAX_STEPS} steps")
        seen: set[str] = set()
        for step in value:
            if step["id"] in seen:
                raise serializers.ValidationError(f"two steps are called {step['id']}")
            seen.add(step["id"])
        return value

    def validate_outputs(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        names = [output["name"] for output in value]
        twice = {name for name in names if names.count(name) > 1}
        if twice:
            raise serializers.ValidationError(f"outputs declared twice: {', '.join(sorted(twice))}")
        return value


def flatten_errors(errors: Any, *, root: str = "definition", prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested errors as ``{"steps[0].retry.attempts": [messages]}`` (errors of the whole
    value under ``root``); also used for import documents."""
    flat: dict[str, list[str]] = {}
    if isinstance(errors, Mapping):
        for key, value in errors.items():
            # DRF keys the errors of a list's items by their index.
            name = f"[{key}]" if isinstance(key, int) else (f".{key}" if prefix else str(key))
            flat.update(flatten_errors(value, root=root, prefix=f"{prefix}{name}"))
    elif isinstance(errors, list) and any(isinstance(item, dict | list) for item in errors):
        for index, value in enumerate(errors):
            if value:
                flat.update(flatten_errors(value, root=root, prefix=f"{prefix}[{index}]"))
    else:
        items = errors if isinstance(errors, list) else [errors]
        flat.setdefault(prefix or root, []).extend(str(item) for item in items)
    return flat


@dataclass(frozen=True)
class Retry:
    attempts: int = 1
    backoff: float = 1.0
    factor: float = 2.0
    max_delay: float = 60.0
    jitter: bool = True
    on_codes: tuple[int, ...] = DEFAULT_RETRY_CODES


@dataclass(frozen=True)
class Step:
    id: str
    component: int
    version: int | None
    inputs: dict[str, Any]
    after: tuple[str, ...]
    run_if: str
    for_each: str
    parallelism: int
    retry: Retry
    timeout: float | None
    on_error: str
    version_id: int | None = None  # resolved at start: the ComponentVersion row run

    @property
    def handler(self) -> str | None:
        """The error-handler step this step routes failures to, if any."""
        return self.on_error if self.on_error not in ON_ERROR else None


@dataclass(frozen=True)
class Output:
    name: str
    value: Any
    type: str | None
    subtype: str
    optional: bool


@dataclass
class Definition:
    inputs: list[dict[str, Any]]
    steps: list[Step]
    outputs: list[Output]
    raw: dict[str, Any] = field(repr=False)

    def __post_init__(self) -> None:
        self.by_id = {step.id: step for step in self.steps}
        self.handlers = {step.handler: step.id for step in self.steps if step.handler}  # handler → failing step
        self.dependencies = {step.id: self._dependencies(step) for step in self.steps}

    def _dependencies(self, step: Step) -> set[str]:
        found = set(step.after)
        for binding in _bindings(step):
            try:
                found |= {ref.parts[0] for ref in references(binding) if ref.kind == "step" and ref.parts}
            except TemplateProblem:
                continue
        if step.id in self.handlers:
            found.add(self.handlers[step.id])
        found.discard(step.id)
        return found

    @cached_property
    def output_sources(self) -> set[str] | None:
        """The steps the outputs read, or None when that cannot be told (a name that is not literal)."""
        found: set[str] = set()
        for output in self.outputs:
            for ref in _refs(output.value):  # a binding that does not parse fails when evaluated
                if ref.kind == "step":
                    if not ref.parts:
                        return None
                    found.add(ref.parts[0])
        return found

    def dependents(self, step_id: str) -> set[str]:
        """Every step downstream of ``step_id`` (not itself)."""
        seen: set[str] = set()
        frontier = [step_id]
        while frontier:
            current = frontier.pop()
            for other, needs in self.dependencies.items():
                if current in needs and other not in seen:
                    seen.add(other)
                    frontier.append(other)
        return seen


def _bindings(step: Step) -> Iterable[str]:
    return (text for _, text in _step_bindings(step))


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)


def clean(data: Any) -> dict[str, Any]:
    """The definition with defaults filled in; raises ``ValidationError`` naming each bad field."""
    if data in (None, ""):
        data = {}
    if not isinstance(data, dict):
        raise ValidationError({"definition": ["an object with inputs, steps and outputs"]})
    serializer = DefinitionSerializer(data=data)
    if not serializer.is_valid():
        raise ValidationError(flatten_errors(serializer.errors))
    cleaned: dict[str, Any] = _plain(serializer.validated_data)
    defaults = cleaned.get("defaults") or {}
    cleaned["defaults"] = {"retry": defaults.get("retry"), "timeout": defaults.get("timeout")}  # cleaning twice: same
    for step, original in zip(cleaned["steps"], data.get("steps") or [], strict=False):
        if isinstance(original, dict) and "version_id" in original:
            step["version_id"] = original["version_id"]  # a plan's resolved version survives
    return cleaned


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def parse(data: Mapping[str, Any]) -> Definition:
    """A cleaned definition (or plan) as typed objects."""
    defaults = data.get("defaults") or {}
    default_retry = defaults.get("retry") or {}
    steps = []
    for raw in data.get("steps", []):
        retry = {**default_retry, **(raw.get("retry") or {})}
        steps.append(
            Step(
                id=raw["id"],
                component=raw["component"],
                version=raw.get("version"),
                inputs=raw.get("inputs") or {},
                after=tuple(raw.get("after") or ()),
                run_if=raw.get("run_if") or "",
                for_each=raw.get("for_each") or "",
                parallelism=raw.get("parallelism") or 10,
                retry=Retry(**{**retry, "on_codes": tuple(retry.get("on_codes", DEFAULT_RETRY_CODES))}),
                timeout=raw.get("timeout") if raw.get("timeout") is not None else defaults.get("timeout"),
                on_error=raw.get("on_error") or "fail",
                version_id=raw.get("version_id"),
            )
        )
    outputs = [
        Output(
            name=raw["name"],
            value=raw["value"],
            type=raw.get("type"),
            subtype=raw.get("subtype") or "",
            optional=bool(raw.get("optional")),
        )
        for raw in data.get("outputs", [])
    ]
    return Definition(inputs=list(data.get("inputs", [])), steps=steps, outputs=outputs, raw=dict(data))


# --- Meaning ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interface:
    """What validation needs to know of a step's component version."""

    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    version_id: int | None  # None: the component has no published version
    name: str


Interfaces = Mapping[tuple[int, int | None], Interface | None]


def interface_of(interfaces: Interfaces, step: Step) -> Interface | None:
    return interfaces.get((step.component, step.version))


def problems(definition: Definition, interfaces: Interfaces) -> list[Problem]:
    """Everything that keeps this definition from running. ``interfaces`` maps each step's
    ``(component id, version)`` to that version's interface (``None``: not in the project)."""
    found: list[Problem] = []

    def report(step: str | None, where: str, message: str) -> None:
        found.append({"step": step, "field": where, "message": message})

    workflow_inputs = {spec["name"]: spec for spec in definition.inputs}
    if not definition.steps:  # it would "succeed" doing nothing, which no one means
        report(None, "steps", NO_STEPS)
    for step in definition.steps:
        interface = interface_of(interfaces, step)
        if interface is None:
            report(step.id, "component", f"no component {step.component} in this project")
        elif interface.version_id is None:
            version = f"version {step.version}" if step.version else "a published version"
            report(step.id, "version", f"{interface.name} has no {version}; publish it first")
        for name in step.after:
            if name not in definition.by_id:
                report(step.id, "after", f"no step named {name}")
        if step.handler:
            handler = definition.by_id.get(step.handler)
            if handler is None:
                report(step.id, "on_error", f"no step named {step.handler} to handle errors")
            elif list(definition.handlers.values()).count(step.id) > 1 or step.handler == step.id:
                report(step.id, "on_error", "a step cannot handle its own errors")
        if list(definition.handlers).count(step.id) > 1:
            report(step.id, "on_error", "a step may handle the errors of one step only")
        if step.for_each:
            each = step.for_each if is_expression(step.for_each) else "{{ " + step.for_each + " }}"
            items = _source_type(each, definition, workflow_inputs, interfaces)
            if items is not None and items["type"] not in ("list", "json"):
                report(step.id, "for_each", f"for_each needs a list, not {describe(items)}")
        upstream = _upstream(definition, step.id)
        for where, binding in _step_bindings(step):
            _check_binding(definition, step, where, binding, upstream, workflow_inputs, interfaces, report)
        if interface is not None:
            _check_step_inputs(step, interface, workflow_inputs, definition, interfaces, report)
    cycle = _cycle(definition)
    if cycle:
        report(cycle[0], "after", f"the steps form a cycle: {' → '.join([*cycle, cycle[0]])}")
    every_step = set(definition.by_id)
    skippable = may_be_skipped(definition)
    for output in definition.outputs:
        where = f"outputs.{output.name}"
        _check_binding(definition, None, where, output.value, every_step, workflow_inputs, interfaces, report)
        source = _source_type(output.value, definition, workflow_inputs, interfaces)
        if output.type and source and not compatible(source, {"type": output.type, "subtype": output.subtype}):
            report(None, where, f"{describe(source)} cannot be returned as {output.type}")
        if not output.optional:
            for name in dict.fromkeys(ref.parts[0] for ref in _refs(output.value) if ref.kind == "step" and ref.parts):
                if name in skippable:
                    report(None, where, f"{name} {skippable[name]}; mark this output optional")
    return found


def may_be_skipped(definition: Definition) -> dict[str, str]:
    """The steps a run may skip, each with why, as the engine decides (``engine._decide``): an error
    handler runs only when its step failed, a step with ``run_if`` only when it holds, and a step
    is skipped when everything it depends on was skipped or failed into an error handler."""
    found: dict[str, str] = {}
    for step in definition.steps:
        if step.id in definition.handlers:
            found[step.id] = "runs only on errors"
        elif step.run_if:
            found[step.id] = "runs only when its run_if holds"
    changed = True
    while changed:  # to a fixed point: a chain of steps may each depend on the one before
        changed = False
        for step in definition.steps:
            needs = sorted(d for d in definition.dependencies[step.id] if d in definition.by_id)
            if step.id in found or not needs:
                continue
            if all(d in found or definition.by_id[d].handler for d in needs):
                found[step.id] = f"depends only on steps that may not run ({', '.join(needs)})"
                changed = True
    return found


def _step_bindings(step: Step) -> Iterable[tuple[str, str]]:
    for name, value in step.inputs.items():
        for text in _strings(value):
            yield f"inputs.{name}", text
    if step.run_if:
        yield "run_if", step.run_if if is_expression(step.run_if) else "{{ " + step.run_if + " }}"
    if step.for_each:
        yield "for_each", step.for_each if is_expression(step.for_each) else "{{ " + step.for_each + " }}"


def _refs(value: Any) -> list[Any]:
    found = []
    for text in _strings(value):
        try:
            found.extend(references(text))
        except TemplateProblem:
            continue
    return found


def _upstream(definition: Definition, step_id: str) -> set[str]:
    seen: set[str] = set()
    frontier = [step_id]
    while frontier:
        for dependency in definition.dependencies.get(frontier.pop(), ()):
            if dependency not in seen and dependency in definition.by_id:
                seen.add(dependency)
                frontier.append(dependency)
    return seen


def _check_binding(
    definition: Definition,
    step: Step | None,
    where: str,
    value: Any,
    upstream: set[str],
    workflow_inputs: Mapping[str, dict[str, Any]],
    interfaces: Interfaces,
    report: Any,
) -> None:
    step_id = step.id if step else None
    for text in _strings(value):
        if SECRET_BINDING.match(text.strip()):
            continue  # checked against the input's type in _check_step_inputs
        try:
            refs = references(text)
        except TemplateProblem as problem:
            report(step_id, where, f"expression: {problem}")
            continue
        for ref in refs:
            if ref.kind == "input":
                if ref.parts and ref.parts[0] not in workflow_inputs:
                    report(step_id, where, f"the workflow has no input named {ref.parts[0]}")
            elif ref.kind == "step":
                if not ref.parts:
                    continue
                target = ref.parts[0]
                if target not in definition.by_id:
                    report(step_id, where, f"no step named {target}")
                    continue
                if target not in upstream:
                    report(step_id, where, f"{target} is not upstream of this step")
                if len(ref.parts) >= 3 and ref.parts[1] == "output":
                    interface = interface_of(interfaces, definition.by_id[target])
                    names = {spec["name"] for spec in interface.outputs} if interface else set()
                    if interface and ref.parts[2] not in names:
                        report(step_id, where, f"{target} has no output named {ref.parts[2]}")
                elif len(ref.parts) >= 2 and ref.parts[1] not in ("output", "error", "status"):
                    report(step_id, where, f"{step_path(target)}.{ref.parts[1]}: use output, error or status")
            elif ref.kind == "item" and (step is None or not step.for_each):
                report(step_id, where, "item is only defined in a for_each step")
            elif ref.kind == "secrets":
                report(step_id, where, "{{ secrets.NAME }} may only be the whole value of a secret input")
            elif ref.kind == "unknown":
                report(step_id, where, f"unknown name {ref.parts[0]}: use input, steps, execution, now or item")


def _source_type(
    value: Any,
    definition: Definition,
    workflow_inputs: Mapping[str, dict[str, Any]],
    interfaces: Interfaces,
) -> dict[str, Any] | None:
    """The declared type a binding that is exactly one reference produces, else ``None`` (unknown)."""
    reference = whole_reference(value) if isinstance(value, str) else None
    if reference is None:
        return None
    parts = reference.parts
    if reference.kind == "input" and len(parts) == 1:
        return workflow_inputs.get(parts[0])
    if reference.kind == "step" and len(parts) == 3 and parts[1] == "output" and parts[0] in definition.by_id:
        source_step = definition.by_id[parts[0]]
        interface = interface_of(interfaces, source_step)
        spec = next((s for s in interface.outputs if s["name"] == parts[2]), None) if interface else None
        if spec and source_step.for_each:
            return {"type": "list", "subtype": spec["type"]}
        return spec
    return None


def compatible(source: Mapping[str, Any], target: Mapping[str, Any]) -> bool:
    """Whether a value of type ``source`` can be bound to an input of type ``target`` (coercion may
    still refuse a value at run time, e.g. a text that is not an email)."""
    source_type, target_type = source["type"], target["type"]
    if source_type == target_type or target_type == "json" or source_type == "json":
        return True
    if target_type == "text":
        return source_type in ("number", "bool", "date")
    if target_type == "date":
        return source_type == "text" and (source.get("subtype") or "text") in ("iso8601", "text")
    return False


def _check_step_inputs(
    step: Step,
    interface: Interface,
    workflow_inputs: Mapping[str, dict[str, Any]],
    definition: Definition,
    interfaces: Interfaces,
    report: Any,
) -> None:
    for spec in interface.inputs:
        name = spec["name"]
        where = f"inputs.{name}"
        if name not in step.inputs or step.inputs[name] in (None, ""):
            if not spec.get("optional") and "default" not in spec:
                report(step.id, where, f"{interface.name} needs {name} ({describe(spec)})")
            continue
        value = step.inputs[name]
        is_secret_binding = isinstance(value, str) and bool(SECRET_BINDING.match(value.strip()))
        if carries_secrets(spec):
            refused = secret_binding_problem(name, spec, value, workflow_inputs)
            if refused:
                report(step.id, where, refused)
            continue
        if is_secret_binding:
            report(step.id, where, f"{name} is not a secret input; credentials go to secret inputs only")
            continue
        if not any(is_expression(text) for text in _strings(value)):
            try:
                TYPES[spec["type"]][0](value, spec.get("subtype") or default_subtype(spec["type"]))
            except (Invalid, ValueError, TypeError, KeyError, OverflowError):
                report(step.id, where, f"{value!r} is not a valid {describe(spec)}")
            continue
        source = _source_type(value, definition, workflow_inputs, interfaces)
        if source is not None and not compatible(source, spec):
            report(step.id, where, f"{describe(source)} cannot be bound to {name} ({describe(spec)})")


def _cycle(definition: Definition) -> list[str] | None:
    """One cycle of steps, in order, if the dependencies have any."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(step_id: str) -> list[str] | None:
        state[step_id] = 1
        path.append(step_id)
        for dependency in sorted(definition.dependencies.get(step_id, ())):
            if dependency not in definition.by_id:
                continue
            if state.get(dependency) == 1:
                return path[path.index(dependency) :]
            if dependency not in state:
                found = visit(dependency)
                if found:
                    return found
        path.pop()
        state[step_id] = 2
        return None

    for step in definition.steps:
        if step.id not in state:
            found = visit(step.id)
            if found:
                return list(reversed(found))
    return None


def topological(definition: Definition) -> list[str]:
    """The step ids, each after its dependencies (the definition must have no cycle)."""
    order: list[str] = []
    placed: set[str] = set()
    remaining = [step.id for step in definition.steps]
    while remaining:
        ready = [s for s in remaining if definition.dependencies[s] & set(definition.by_id) <= placed]
        if not ready:
            raise ValueError("the steps form a cycle")
        for step_id in ready:
            order.append(step_id)
            placed.add(step_id)
        remaining = [s for s in remaining if s not in placed]
    return order
