"""Which bindings may give a workflow step's input that carries secrets (DESIGN: credentials).

An input that ``components.types.carries_secrets`` (``secret``, a ``list`` of secrets) names the
project credential the host substitutes and sends wherever the component sends it. A step's binding
is the editor's choice, but an expression hands the choice to whoever decides its value: a webhook
caller (the body is the workflow's input), a remote server whose answer a step returns, a viewer
running the workflow with a text input. So such an input takes only what an editor wrote or what
``components.callers`` already guards: a literal ``{{ secrets.NAME }}``, or exactly ``{{ input.X }}``
of a workflow input that carries secrets itself. ``definition.problems`` reports anything else when
a definition is saved, published, imported or started; the engine looks again before a step runs
(a replay or restart runs the plan its source was started with, perhaps before this rule).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from components.types import SECRET_NAME, carries_secrets
from workflows.expressions import SECRET_BINDING, WHOLE_REFERENCE, is_expression


def secret_binding_problem(
    name: str, spec: Mapping[str, Any], value: Any, workflow_inputs: Mapping[str, Mapping[str, Any]]
) -> str | None:
    """Why ``value`` may not be the binding of the step input ``name`` that carries secrets
    (``types.carries_secrets``), or ``None``. Whoever decides such a value decides which credential
    the host substitutes and sends, so it must be the editor's own choice: a literal
    ``{{ secrets.NAME }}``, or exactly ``{{ input.X }}`` of a workflow input that carries secrets
    itself (its callers are checked by ``components.callers``); a list of secrets takes a list of
    those (each item a reference or a ``secret`` workflow input) or a workflow input that is a list
    of secrets. Never a step's output, ``item``, a webhook's body field, a text input or a mix:
    those are data, which a caller or a remote server chooses. Used when a definition is checked
    (save, publish, import, start) and again by the engine before a step runs (``_start_step``)."""
    if spec["type"] == "secret":
        if _names_one(value, workflow_inputs):
            return None
        return (
            f"{name} names a credential: bind it to {{{{ secrets.NAME }}}} or to a workflow input of type "
            f"secret ({{{{ input.X }}}}), not to {_shown(value)}, whose value the run's data would choose"
        )
    if isinstance(value, str) and _secret_input(value, workflow_inputs, listed=True):
        return None
    if isinstance(value, list):
        others = [item for item in value if not _names_one(item, workflow_inputs)]
        if not others:
            return None
        shown = "a list holding " + ", ".join(dict.fromkeys(_shown(item) for item in others))
    else:
        shown = _shown(value)
    return (
        f"{name} names credentials: bind it to a list of {{{{ secrets.NAME }}}} (or of workflow inputs of type "
        f"secret) or to a workflow input that is a list of secrets, not to {shown}, whose value the run's data "
        "would choose"
    )


def secret_bindings_refused(
    step_id: str, bindings: Mapping[str, Any], specs: Iterable[Mapping[str, Any]], workflow_inputs: Iterable[Any]
) -> str:
    """The engine's look before a step runs, for plans made before :func:`secret_binding_problem`
    was a problem (a replay or restart runs its source's plan): ``"step.inputs.name: why"`` for
    each input bound in a way that lets data choose a credential, ``""`` when none is."""
    declared = {spec["name"]: spec for spec in workflow_inputs if isinstance(spec, Mapping) and "name" in spec}
    found = []
    for spec in specs:
        value = bindings.get(spec["name"])
        if carries_secrets(dict(spec)) and value not in (None, ""):
            refused = secret_binding_problem(spec["name"], spec, value, declared)
            if refused:
                found.append(f"{step_id}.inputs.{spec['name']}: {refused}")
    return "; ".join(found)


def _names_one(value: Any, workflow_inputs: Mapping[str, Mapping[str, Any]]) -> bool:
    return isinstance(value, str) and bool(
        SECRET_BINDING.match(value.strip()) or _secret_input(value, workflow_inputs, listed=False)
    )


def _secret_input(text: str, workflow_inputs: Mapping[str, Mapping[str, Any]], listed: bool) -> bool:
    """Whether ``text`` is exactly ``{{ input.X }}`` of a workflow input of type secret (``listed``:
    a list of secrets)."""
    match = WHOLE_REFERENCE.match(text.strip())
    parts = match.group(1).split(".") if match else []
    if len(parts) != 2 or parts[0] not in ("input", "inputs") or parts[1] not in workflow_inputs:
        return False
    spec = workflow_inputs[parts[1]]
    return carries_secrets(dict(spec)) and (spec["type"] == "list") == listed


def _shown(value: Any) -> str:
    """The refused binding as a problem may show it: an expression, never a literal text (that may
    be a pasted credential value), except a credential's name, which gets the reference to write."""
    if not isinstance(value, str):
        kinds = {bool: "true or false", dict: "an object", list: "a list", type(None): "null"}
        return kinds.get(type(value), "a number")
    if not is_expression(value):
        name = value.strip()
        return f"a plain name (write {{{{ secrets.{name} }}}})" if SECRET_NAME.match(name) else "a literal text"
    return repr(value if len(value) <= 80 else value[:77] + "...")
