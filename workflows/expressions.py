"""Workflow bindings (DESIGN.md §3): ``{{ … }}`` expressions over the run's names.

Names: ``input.<name>`` (also ``inputs.<name>``), ``steps.<id>.output.<name>``,
``steps.<id>.error`` / ``steps.<id>.status``, ``execution.id``, ``now`` (ISO 8601, UTC), and in a
``for_each`` step ``item`` and ``item_index``. ``secrets.<NAME>`` is not evaluated here: a binding
that is exactly ``{{ secrets.NAME }}`` is passed as a reference to a ``secret`` input, and the host
substitutes it when the component sends a request, so plaintext never reaches a step's inputs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import nodes

from synchronise.lib.expressions import TemplateProblem, compile_template, environment, render

SECRET_BINDING = re.compile(r"^\{\{\s*secrets\.([A-Z][A-Z0-9_]{0,63})\s*\}\}$")
WHOLE_REFERENCE = re.compile(r"^\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_-]*)*)\s*\}\}$")
NAMES = frozenset({"input", "inputs", "steps", "execution", "now", "item", "item_index", "secrets"})


@dataclass(frozen=True)
class Reference:
    """A name a binding reads: ``("input", "x")``, ``("step", "a", "output", "x")``, ``("item",)``…"""

    kind: str  # input | step | execution | now | item | secrets | unknown
    parts: tuple[str, ...]


def is_expression(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value)


def _chain(node: nodes.Node) -> list[str] | None:
    """``steps.a.output.x`` (attributes or constant subscripts) as names, outermost first."""
    parts: list[str] = []
    while True:
        if isinstance(node, nodes.Getattr):
            parts.append(node.attr)
            node = node.node
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            parts.append(str(node.arg.value))
            node = node.node
        elif isinstance(node, nodes.Name):
            parts.append(node.name)
            return list(reversed(parts))
        else:
            return None


def references(source: str) -> list[Reference]:
    """The names ``source`` reads, as far as they are literal. Raises ``TemplateProblem``."""
    if not is_expression(source):
        return []
    compile_template(source)  # syntax and "expressions only" first
    tree = environment.parse(source)
    found: list[Reference] = []
    covered: set[int] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if id(node) in covered:
            continue
        chain = _chain(node)
        if chain is None:
            continue
        for inner in node.find_all((nodes.Getattr, nodes.Getitem, nodes.Name)):
            covered.add(id(inner))
        found.append(_classify(chain))
    for name in tree.find_all(nodes.Name):
        if name.ctx == "load" and id(name) not in covered:
            found.append(_classify([name.name]))
    return found


def _classify(chain: list[str]) -> Reference:
    head = chain[0]
    if head in ("input", "inputs"):
        return Reference("input", tuple(chain[1:2]))
    if head == "steps":
        return Reference("step", tuple(chain[1:4]))
    if head in NAMES:
        return Reference("item" if head == "item_index" else head, tuple(chain[1:]))
    return Reference("unknown", (head,))


def evaluate(source: Any, context: Mapping[str, Any]) -> Any:
    """A binding's value: literals (any JSON) as they are, strings rendered (a whole ``{{ expr }}``
    keeps its native type), lists and objects element by element. A whole ``{{ secrets.NAME }}``
    stays a reference. Raises ``TemplateProblem``."""
    if isinstance(source, str):
        if not is_expression(source) or SECRET_BINDING.match(source.strip()):
            return source
        return render(source, context)
    if isinstance(source, list):
        return [evaluate(item, context) for item in source]
    if isinstance(source, dict):
        return {key: evaluate(value, context) for key, value in source.items()}
    return source


def truthy(source: str, context: Mapping[str, Any]) -> bool:
    """``run_if``: an expression (with or without braces) that decides whether a step runs."""
    expression = source if is_expression(source) else "{{ " + source + " }}"
    return bool(evaluate(expression, context))


__all__ = ["Reference", "TemplateProblem", "evaluate", "is_expression", "references", "truthy"]
