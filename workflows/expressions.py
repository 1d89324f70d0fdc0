"""Workflow bindings (DESIGN.md §3): ``{{ … }}`` expressions over the run's names.

Names: ``input.<name>`` (also ``inputs.<name>``), ``steps.<id>.output.<name>``,
``steps.<id>.error`` / ``steps.<id>.status``, ``execution.id``, ``now`` (ISO 8601, UTC), and in a
``for_each`` step ``item`` and ``item_index``. ``secrets.<NAME>`` is not evaluated here: a binding
that is exactly ``{{ secrets.NAME }}`` is passed as a reference to a ``secret`` input, and the host
substitutes it when the component sends a request, so plaintext never reaches a step's inputs.

A step id may hold ``-`` (``fetch-ip``), which Jinja reads as a minus. ``steps["fetch-ip"]`` always
works; the dotted ``steps.fetch-ip`` is rewritten to it before Jinja parses (``bracket_step_ids``):
right after ``steps.`` a minus can never be meant (a step is a mapping, nothing is subtracted from
it), so the rule needs no list of ids and reads the same in the editor, the validator and the engine.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import TemplateError, nodes

from synchronise.lib.expressions import WHOLE_EXPRESSION, TemplateProblem, compile_template, environment, render

SECRET_BINDING = re.compile(r"^\{\{\s*secrets\.([A-Z][A-Z0-9_]{0,63})\s*\}\}$")
WHOLE_REFERENCE = re.compile(r"^\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_-]*)*)\s*\}\}$")
# Inside {{ }}: a quoted string (left alone) or ``steps.<id with a hyphen>`` not preceded by a name
# or a dot, and not followed by more name characters (``steps.a-B`` stays a subtraction).
_EXPRESSION_BLOCK = re.compile(r"\{\{.*?\}\}", re.DOTALL)
_DOTTED_STEP = re.compile(
    r"""("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')"""
    r"|(?<![\w.])(steps\s*)\.\s*([a-z][a-z0-9_]*-[a-z0-9_-]*)(?![A-Za-z0-9_-])"
)
NAMES = frozenset({"input", "inputs", "steps", "execution", "now", "item", "item_index", "secrets"})


@dataclass(frozen=True)
class Reference:
    """A name a binding reads: ``("input", "x")``, ``("step", "a", "output", "x")``, ``("item",)``…"""

    kind: str  # input | step | execution | now | item | secrets | unknown
    parts: tuple[str, ...]


def is_expression(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value)


@functools.lru_cache(maxsize=1024)
def bracket_step_ids(source: str) -> str:
    """``source`` with every dotted ``steps.<id>`` whose id holds ``-`` written ``steps["<id>"]``,
    inside ``{{ }}`` only and never inside a quoted string; anything else unchanged."""
    if "-" not in source or "steps" not in source:
        return source

    def in_block(block: re.Match[str]) -> str:
        def one(match: re.Match[str]) -> str:
            if match.group(1) is not None:
                return match.group(1)
            return f'{match.group(2)}["{match.group(3)}"]'

        return _DOTTED_STEP.sub(one, block.group(0))

    return _EXPRESSION_BLOCK.sub(in_block, source)


def step_path(step_id: str) -> str:
    """How an expression names a step: ``steps.fetch`` or, for an id that is not an identifier,
    ``steps["fetch-ip"]`` (what the editor's pickers offer)."""
    return f"steps.{step_id}" if step_id.isidentifier() else f'steps["{step_id}"]'


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
    source = bracket_step_ids(source)
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


def whole_reference(source: str) -> Reference | None:
    """The one name ``source`` reads when it is exactly ``{{ name }}`` (dotted or bracketed:
    ``{{ steps["a-b"].output.x }}``), with every part after the head, else ``None``; for type
    checks at design time."""
    if not isinstance(source, str) or not WHOLE_EXPRESSION.match(source):
        return None
    try:
        tree = environment.parse(bracket_step_ids(source.strip()))
    except TemplateError:
        return None
    body = tree.body
    if len(body) != 1 or not isinstance(body[0], nodes.Output) or len(body[0].nodes) != 1:
        return None
    chain = _chain(body[0].nodes[0])
    # The whole chain, not _classify's first parts: steps.a.output.x.y is not of x's type.
    return Reference(_classify(chain).kind, tuple(chain[1:])) if chain is not None else None


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
        return render(bracket_step_ids(source), context)
    if isinstance(source, list):
        return [evaluate(item, context) for item in source]
    if isinstance(source, dict):
        return {key: evaluate(value, context) for key, value in source.items()}
    return source


def truthy(source: str, context: Mapping[str, Any]) -> bool:
    """``run_if``: an expression (with or without braces) that decides whether a step runs."""
    expression = source if is_expression(source) else "{{ " + source + " }}"
    return bool(evaluate(expression, context))


__all__ = [
    "Reference",
    "TemplateProblem",
    "bracket_step_ids",
    "evaluate",
    "is_expression",
    "references",
    "step_path",
    "truthy",
    "whole_reference",
]
