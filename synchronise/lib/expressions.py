"""A sandboxed expression language for user-written templates: Jinja2 expressions only.

Used by ``http`` components (request templates) and workflow bindings. Jinja's immutable sandbox
(no private attributes, no mutation) plus size caps, so a template cannot make the worker allocate
gigabytes (``'x' * 10**10``, ``'%999999999d' % 1``); ``{% statements %}`` are refused. A string
that is one ``{{ expression }}`` keeps its native type (``"{{ inputs.count }}"`` stays an int).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import ChainableUndefined, TemplateError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

MAX_TEXT = 1_000_000  # characters any template operation may produce
MAX_ITEMS = 100_000  # items of a list or a repeated sequence
WHOLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expression>.*)\}\}\s*$", re.DOTALL)


def check_size(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_TEXT:
        raise SecurityError(f"a template value is longer than {MAX_TEXT} characters")
    if isinstance(value, list | tuple) and len(value) > MAX_ITEMS:
        raise SecurityError(f"a template list is longer than {MAX_ITEMS} items")
    return value


def _capped(function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)  # keeps Jinja's pass_context/pass_eval_context marks
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return check_size(function(*args, **kwargs))

    return wrapper


_STR_FORMAT = ("format", "format_map")


class _Environment(ImmutableSandboxedEnvironment):
    """Jinja's sandbox (no private attributes, no mutation of lists and dicts) plus size caps, so a
    template cannot make the worker allocate gigabytes (``'x' * 10**10``, ``'%999999999d' % 1``)."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})
    _UNSAFE_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs", "format", "format_map"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for sequence, times in ((left, right), (right, left)):
                limit = MAX_TEXT if isinstance(sequence, str) else MAX_ITEMS
                if (
                    isinstance(sequence, str | list | tuple)
                    and isinstance(times, int)
                    and len(sequence) * times > limit
                ):
                    raise SecurityError("the repeated value would be too large")
        elif operator == "**":
            if (isinstance(right, int) and abs(right) > 256) or (isinstance(left, int) and abs(left) > 2**64):
                raise SecurityError("the power would be too large")
        elif operator == "%" and isinstance(left, str) and re.search(r"%[-+ #0]*(\d{4,}|\*)|\.(\d{4,}|\*)", left):
            raise SecurityError("format widths above 999 are not allowed")
        return check_size(super().call_binop(context, operator, left, right))

    def getattr(self, obj: Any, attribute: str) -> Any:
        # ``input.items`` means the input named "items", not the dict method.
        if isinstance(obj, dict) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, str) and attr in self._UNSAFE_METHODS:
            return False
        return super().is_safe_attribute(obj, attr, value)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        if isinstance(getattr(value, "__self__", None), str) and getattr(value, "__name__", "") in _STR_FORMAT:
            raise SecurityError("str.format is not available in templates; join text with ~")
        return super().wrap_str_format(value)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        return check_size(super().call(__context, __obj, *args, **kwargs))


def _make_environment() -> _Environment:
    environment = _Environment(undefined=ChainableUndefined, autoescape=False, keep_trailing_newline=True)
    environment.globals = {"range": environment.globals["range"]}  # no lipsum, cycler, namespace, …
    dropped = {"center", "indent", "wordwrap", "format", "pprint", "xmlattr"}
    environment.filters = {name: _capped(f) for name, f in environment.filters.items() if name not in dropped}
    return environment


environment = _make_environment()


class TemplateProblem(ValueError):
    """A template that cannot be compiled or used; the message says why."""


def check_expressions_only(tree: nodes.Template) -> None:
    for node in tree.find_all(nodes.Stmt):
        if not isinstance(node, nodes.Output):
            raise TemplateProblem("only {{ expressions }} are allowed, not {% statements %}")


@functools.lru_cache(maxsize=1024)
def compile_template(source: str) -> tuple[str, Any]:
    """(``"native"``, expression) for a string that is one expression, else (``"text"``, template)."""
    try:
        whole = WHOLE_EXPRESSION.match(source)
        if whole and not re.search(r"\{\{|\}\}|\{%|%\}|\{#", whole.group("expression")):
            return "native", environment.compile_expression(whole.group("expression"), undefined_to_none=True)
        tree = environment.parse(source)
        check_expressions_only(tree)
        return "text", environment.from_string(tree)
    except TemplateError as error:
        raise TemplateProblem(str(error.message or error)) from None


def render(source: str, context: Mapping[str, Any], *, native: bool = True) -> Any:
    """``source`` rendered over ``context``: a native value for a whole ``{{ expression }}`` (unless
    ``native=False``), else text. Raises ``TemplateProblem``; exceptions raised by objects in the
    context (not template errors) pass through."""
    if "{" not in source:
        return source
    mode, compiled = compile_template(source)
    try:
        if mode == "native":
            value = compiled(**context)
            return value if native else as_text(value)
        return check_size(compiled.render(**context))
    except (TemplateError, ArithmeticError, TypeError, ValueError, LookupError) as error:
        raise TemplateProblem(str(error)) from None


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)
