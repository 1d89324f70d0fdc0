"""Declarative HTTP components (``kind=http``): a request template, a response mapping, no code.

The spec, stored in ``Component.http``::

    {
      "method": "POST",
      "url": "https://api.example.com/v1/items/{{ inputs.id|urlencode }}",
      "query": {"expand": "{{ inputs.expand }}"},
      "headers": {"Authorization": "Bearer {{ secrets.EXAMPLE_TOKEN }}"},
      "body": {"type": "json", "value": {"name": "{{ inputs.name }}", "count": "{{ inputs.count }}"}},
      "outputs": {"id": "body.data.id", "status": "status", "total": "headers.X-Total-Count"},
      "error_message": "body.error.message"
    }

Every string is a Jinja2 template over ``inputs`` and ``secrets``, rendered in a sandboxed
environment that allows expressions only (no ``{% … %}`` statements) and caps the size of what
operators, methods and filters produce. A string that is one ``{{ expression }}`` keeps its native
type (``"{{ inputs.count }}"`` stays an int in a JSON body). ``secrets`` can be read by name only
(``secrets.NAME``), never listed; an unknown name is an error naming it.

``body.type``: ``json`` (``value`` any JSON, templates in its strings), ``form`` (``value`` an
object of templates, sent url-encoded) or ``raw`` (``value`` one template, sent with
``content_type``, ``text/plain`` by default).

Output paths: ``status``, ``headers.<Name>`` (any case), ``body`` (parsed JSON, or the text) and
``body.<key>.<index>…`` into the JSON body. A 2xx response maps to outputs (a path that is not
there leaves that output out, so a required one fails with 107); anything else is an error
``{code: <remote status if ≥ 200 else 502>, message, status}`` whose message comes from the
``error_message`` path, or the reason phrase. Failures before an answer: blocked destination,
too large, unreachable → 502; timeout → 504; a template or credential problem → 400; each with
``reason``.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from jinja2 import ChainableUndefined, TemplateError, meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from rest_framework import serializers

from components.credentials import SECRET_REFERENCE, CredentialError, UnknownSecret, mask
from synchronise.lib import outbound

MAX_TEXT = 1_000_000  # characters any template operation may produce
MAX_ITEMS = 100_000  # items of a list or a repeated sequence
MAX_SPEC_BYTES = 100_000
MAX_LOGGED_BODY = 500
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
OUTPUT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
PATH = re.compile(r"^(status|body(\.[^.\s]+)*|headers\.[!#$%&'*+^_`|~0-9A-Za-z-]+)$")
WHOLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expression>.*)\}\}\s*$", re.DOTALL)
SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key", "api-key"})

BUILD_FAILED = 400
TRANSPORT_FAILED = 502
TIMED_OUT = 504


# --- The template environment ----------------------------------------------------------------


def _check_size(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_TEXT:
        raise SecurityError(f"a template value is longer than {MAX_TEXT} characters")
    if isinstance(value, list | tuple) and len(value) > MAX_ITEMS:
        raise SecurityError(f"a template list is longer than {MAX_ITEMS} items")
    return value


def _capped(function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)  # keeps Jinja's pass_context/pass_eval_context marks
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return _check_size(function(*args, **kwargs))

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
        return _check_size(super().call_binop(context, operator, left, right))

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, str) and attr in self._UNSAFE_METHODS:
            return False
        return super().is_safe_attribute(obj, attr, value)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        if isinstance(getattr(value, "__self__", None), str) and getattr(value, "__name__", "") in _STR_FORMAT:
            raise SecurityError("str.format is not available in templates; join text with ~")
        return super().wrap_str_format(value)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        return _check_size(super().call(__context, __obj, *args, **kwargs))


def _make_environment() -> _Environment:
    environment = _Environment(undefined=ChainableUndefined, autoescape=False, keep_trailing_newline=True)
    environment.globals = {"range": environment.globals["range"]}  # no lipsum, cycler, namespace, …
    dropped = {"center", "indent", "wordwrap", "format", "pprint", "xmlattr"}
    environment.filters = {name: _capped(f) for name, f in environment.filters.items() if name not in dropped}
    return environment


_environment = _make_environment()


class _Secrets:
    """The ``secrets`` of a template: readable by name (``secrets.NAME``), not listable."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = values

    def __getitem__(self, name: str) -> str:
        if not isinstance(name, str):
            raise SecurityError("secrets cannot be listed; name one: secrets.NAME")
        if name not in self._values:
            raise UnknownSecret(name)
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        raise SecurityError("secrets cannot be listed; name one: secrets.NAME")

    def __str__(self) -> str:
        return "secrets"


class TemplateProblem(ValueError):
    """A template that cannot be compiled or used; the message says why."""


def _check_expressions_only(tree: nodes.Template) -> None:
    for node in tree.find_all(nodes.Stmt):
        if not isinstance(node, nodes.Output):
            raise TemplateProblem("only {{ expressions }} are allowed, not {% statements %}")


@functools.lru_cache(maxsize=1024)
def _compile(source: str) -> tuple[str, Any]:
    """(``"native"``, expression) for a string that is one expression, else (``"text"``, template)."""
    try:
        whole = WHOLE_EXPRESSION.match(source)
        if whole and not re.search(r"\{\{|\}\}|\{%|%\}|\{#", whole.group("expression")):
            return "native", _environment.compile_expression(whole.group("expression"), undefined_to_none=True)
        tree = _environment.parse(source)
        _check_expressions_only(tree)
        return "text", _environment.from_string(tree)
    except TemplateError as error:
        raise TemplateProblem(str(error.message or error)) from None


def _render(source: str, context: Mapping[str, Any], *, native: bool = True) -> Any:
    if "{" not in source:
        return source
    mode, compiled = _compile(source)
    try:
        if mode == "native":
            value = compiled(**context)
            return value if native else _as_text(value)
        return _check_size(compiled.render(**context))
    except CredentialError:
        raise
    except (TemplateError, ArithmeticError, TypeError, ValueError, LookupError) as error:
        raise TemplateProblem(str(error)) from None


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _references(source: str) -> tuple[set[str], set[str], set[str]]:
    """(input names, secret names, other top-level names) a template reads, as far as they are literal."""
    _compile(source)  # raises TemplateProblem first
    tree = _environment.parse(source)
    inputs: set[str] = set()
    secrets: set[str] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        target = getattr(node, "node", None)
        if not isinstance(target, nodes.Name) or target.name not in ("inputs", "secrets"):
            continue
        if isinstance(node, nodes.Getattr):
            key: Any = node.attr
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            key = node.arg.value
        else:
            continue
        (inputs if target.name == "inputs" else secrets).add(str(key))
    others = set(meta.find_undeclared_variables(tree)) - {"inputs", "secrets"}
    return inputs, secrets, others


# --- Validation at save time -----------------------------------------------------------------


class _Template(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("max_length", 10_000)
        super().__init__(**kwargs)


class _BodySerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["json", "form", "raw"])
    value = serializers.JSONField(required=False, default=None)
    content_type = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        value = attrs.get("value")
        if attrs["type"] == "form" and not (
            isinstance(value, dict) and all(isinstance(v, str | int | float | bool) for v in value.values())
        ):
            raise serializers.ValidationError({"value": ["an object of text templates"]})
        if attrs["type"] == "raw" and not isinstance(value, str):
            raise serializers.ValidationError({"value": ["a text template"]})
        if attrs["type"] != "raw" and attrs.get("content_type"):
            raise serializers.ValidationError({"content_type": ["only for a raw body"]})
        return attrs


class _SpecSerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=sorted(outbound.METHODS), default="GET")
    url = _Template(allow_blank=False, max_length=4000)
    query = serializers.DictField(child=_Template(), required=False, default=dict)
    headers = serializers.DictField(child=_Template(), required=False, default=dict)
    body = _BodySerializer(required=False, allow_null=True, default=None)
    outputs = serializers.DictField(child=serializers.CharField(max_length=500), required=False, default=dict)
    error_message = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = set(self.initial_data) - set(self.fields)
        if unknown:
            raise serializers.ValidationError({name: ["unknown field"] for name in sorted(unknown)})
        return attrs


def _flatten(errors: Any, prefix: str = "") -> list[str]:
    if isinstance(errors, dict):
        return [m for key, inner in errors.items() for m in _flatten(inner, f"{prefix}.{key}" if prefix else str(key))]
    if isinstance(errors, list):
        return [m for inner in errors for m in _flatten(inner, prefix)]
    return [f"{prefix}: {errors}" if prefix and prefix != "non_field_errors" else str(errors)]


def _templates(spec: dict[str, Any]) -> Iterable[tuple[str, str]]:
    """(field path, template) for every template string of a validated spec."""
    yield "url", spec["url"]
    for section in ("query", "headers"):
        for key, value in spec[section].items():
            yield f"{section}.{key}", value
    body = spec["body"]
    if body is None:
        return
    if body["type"] == "raw":
        yield "body.value", body["value"]
        return

    def walk(value: Any, path: str) -> Iterable[tuple[str, str]]:
        if isinstance(value, str):
            yield path, value
        elif isinstance(value, dict):
            for key, inner in value.items():
                yield from walk(str(key), f"{path}.{key} (key)")
                yield from walk(inner, f"{path}.{key}")
        elif isinstance(value, list):
            for index, inner in enumerate(value):
                yield from walk(inner, f"{path}.{index}")

    yield from walk(body["value"], "body.value")


def validate_http_spec(
    spec: Any, *, inputs: Iterable[Mapping[str, Any]] | None = None, outputs: Iterable[Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """The spec, normalised (every field present); raises Django's ``ValidationError`` whose messages
    each start with the field they are about (``"body.type: …"``, ``"headers.X-Key: …"``).

    With the component's declared ``inputs`` / ``outputs``, references to undeclared inputs and
    mappings of undeclared outputs are errors too.
    """
    if not isinstance(spec, dict):
        raise ValidationError(["an object with method, url, query, headers, body, outputs, error_message"])
    if len(json.dumps(spec, default=str)) > MAX_SPEC_BYTES:
        raise ValidationError([f"the spec is larger than {MAX_SPEC_BYTES} bytes"])
    if isinstance(spec.get("method"), str):
        spec = {**spec, "method": spec["method"].upper()}
    serializer = _SpecSerializer(data=spec)
    if not serializer.is_valid():
        raise ValidationError(_flatten(serializer.errors))
    clean: dict[str, Any] = dict(serializer.validated_data)
    clean["body"] = dict(clean["body"]) if clean["body"] is not None else None
    declared_inputs = {i["name"] for i in inputs} if inputs is not None else None
    declared_outputs = {o["name"] for o in outputs} if outputs is not None else None
    problems: list[str] = []
    for name in clean["headers"]:
        if not HEADER_NAME.match(name):
            problems.append(f"headers.{name}: not a valid header name")
    for name in clean["query"]:
        if not name:
            problems.append("query: a parameter needs a name")
    for path, source in _templates(clean):
        try:
            used_inputs, used_secrets, others = _references(source)
        except TemplateProblem as error:
            problems.append(f"{path}: {error}")
            continue
        if others:
            problems.append(f"{path}: unknown name {', '.join(sorted(others))} (use inputs.… or secrets.…)")
        if declared_inputs is not None and used_inputs - declared_inputs:
            problems.append(f"{path}: no input named {', '.join(sorted(used_inputs - declared_inputs))}")
        for secret in sorted(used_secrets):
            if not re.fullmatch(r"[A-Z][A-Z0-9_]{0,63}", secret):
                problems.append(f"{path}: {secret} is not a credential name (capitals, digits, underscores)")
    if "{" not in clean["url"] and not re.match(r"^https?://[^/\s]", clean["url"], re.IGNORECASE):
        problems.append("url: an http:// or https:// URL")
    for name, path in clean["outputs"].items():
        if not OUTPUT_NAME.match(name):
            problems.append(f"outputs.{name}: letters, digits and underscores, not starting with a digit")
        elif declared_outputs is not None and name not in declared_outputs:
            problems.append(f"outputs.{name}: no output named {name}")
        if not PATH.match(path):
            problems.append(f"outputs.{name}: status, headers.<Name>, body or body.<path>")
    error_path = clean["error_message"]
    if error_path and not (PATH.match(error_path) and error_path.split(".")[0] == "body"):
        problems.append("error_message: body or body.<path>")
    if problems:
        raise ValidationError(problems)
    return clean


# --- Running ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpRunResult:
    """``outputs`` on a 2xx answer, else ``error`` (``{code, message, …}``); ``request_log``: log lines.
    Every part has the project's secrets masked."""

    outputs: dict[str, Any] | None
    error: dict[str, Any] | None
    request_log: list[str] = field(default_factory=list)
    status: int | None = None


def _render_tree(value: Any, context: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        return _render(value, context)
    if isinstance(value, dict):
        return {_render(str(k), context, native=False): _render_tree(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [_render_tree(item, context) for item in value]
    return value


def _pairs(templates: Mapping[str, str], context: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Query or form fields: ``None`` leaves a field out, a list repeats it."""
    pairs: list[tuple[str, str]] = []
    for key, source in templates.items():
        value = _render(str(source), context)
        for item in value if isinstance(value, list) else [value]:
            if item is not None:
                pairs.append((key, _as_text(item)))
    return pairs


@dataclass
class _Request:
    method: str
    url: str
    params: list[tuple[str, str]]
    headers: dict[str, str]
    json: Any = None
    data: Any = None


def _build(spec: dict[str, Any], context: Mapping[str, Any]) -> _Request:
    url = _render(spec["url"], context, native=False).strip()
    headers = {}
    for name, source in spec["headers"].items():
        value = _render(source, context)
        if value is not None:
            headers[name] = _as_text(value)
    built = _Request(method=spec["method"], url=url, params=_pairs(spec["query"], context), headers=headers)
    body = spec["body"]
    if body is not None:
        if body["type"] == "json":
            built.json = _render_tree(body["value"], context)
        elif body["type"] == "form":
            built.data = _pairs({k: str(v) for k, v in body["value"].items()}, context)
        else:
            built.data = _render(body["value"], context, native=False).encode()
            if not any(name.lower() == "content-type" for name in headers):
                headers["Content-Type"] = body["content_type"] or "text/plain; charset=utf-8"
    return built


_MISSING = object()


def _body(response: outbound.OutboundResponse) -> Any:
    """The body parsed as JSON, else its text (``None`` when empty)."""
    try:
        return response.json() if response.content else None
    except ValueError:
        return response.text


def _lookup(response: outbound.OutboundResponse, body: Any, path: str) -> Any:
    """The value at ``path`` in the response, or ``_MISSING``."""
    if path == "status":
        return response.status
    head, _, rest = path.partition(".")
    if head == "headers":
        return response.headers.get(rest, _MISSING)
    value = body
    if not rest:
        return value
    for segment in rest.split("."):
        if isinstance(value, dict) and segment in value:
            value = value[segment]
        elif isinstance(value, list) and re.fullmatch(r"-?\d+", segment) and -len(value) <= int(segment) < len(value):
            value = value[int(segment)]
        else:
            return _MISSING
    return value


def _resolve_secret_inputs(
    inputs: Mapping[str, Any], secrets: Mapping[str, str], names: Iterable[str]
) -> dict[str, Any]:
    """Inputs declared of type ``secret`` carry ``{{ secrets.NAME }}``: give templates the value.
    Only those inputs: a reference typed into any other input stays text, or a caller could make a
    component send any credential of the project wherever that input goes."""
    resolved = dict(inputs)
    for name in names:
        value = resolved.get(name)
        match = SECRET_REFERENCE.fullmatch(value.strip()) if isinstance(value, str) else None
        if match:
            if match.group(1) not in secrets:
                raise UnknownSecret(match.group(1))
            resolved[name] = secrets[match.group(1)]
    return resolved


def run_http_component(
    spec: dict[str, Any],
    inputs: Mapping[str, Any],
    secrets: Mapping[str, str],
    *,
    idempotency_key: str,
    timeout: float | None = None,
    max_bytes: int | None = None,
    secret_inputs: Iterable[str] = (),
) -> HttpRunResult:
    """Render the request, send it through the SSRF guard, map the answer. Never raises for a
    remote or template problem: those come back as ``error``. ``secret_inputs``: names of inputs
    declared of type ``secret``, whose ``{{ secrets.NAME }}`` value is substituted."""
    values = list(secrets.values())
    log: list[str] = []

    def failed(code: int, message: str, **extra: Any) -> HttpRunResult:
        log.append(f"error {code}: {message}")
        return HttpRunResult(
            outputs=None,
            error=mask({"code": code, "message": message, **extra}, values),
            request_log=mask(log, values),
            status=extra.get("status"),
        )

    try:
        spec = validate_http_spec(spec)
        context = {"inputs": _resolve_secret_inputs(inputs, secrets, secret_inputs), "secrets": _Secrets(secrets)}
        built = _build(spec, context)
    except ValidationError as error:
        return failed(BUILD_FAILED, "the HTTP spec is invalid: " + "; ".join(error.messages), reason="spec")
    except (CredentialError, TemplateProblem, SecurityError) as error:
        return failed(BUILD_FAILED, f"the request could not be built: {error}", reason="template")
    if not any(name.lower() == "idempotency-key" for name in built.headers):
        built.headers["Idempotency-Key"] = idempotency_key
    shown = {k: "••••••" if k.lower() in SENSITIVE_HEADERS else v for k, v in built.headers.items()}
    query = ("&" if "?" in built.url else "?") + urlencode(built.params) if built.params else ""
    log.append(f"→ {built.method} {built.url}{query}")
    log.append(f"  headers {json.dumps(shown, ensure_ascii=False)}")
    try:
        response = outbound.request(
            built.method,
            built.url,
            headers=built.headers,
            params=built.params or None,
            json=built.json,
            data=built.data,
            timeout=timeout,
            max_bytes=max_bytes,
        )
    except outbound.OutboundTimeout as error:
        return failed(TIMED_OUT, error.reason, reason="timeout")
    except outbound.OutboundBlocked as error:
        return failed(TRANSPORT_FAILED, f"blocked: {error.reason}", reason="blocked")
    except outbound.OutboundTooLarge as error:
        return failed(TRANSPORT_FAILED, error.reason, reason="too_large")
    except outbound.OutboundError as error:
        return failed(TRANSPORT_FAILED, error.reason, reason="unreachable")
    redirects = f" after {len(response.redirects)} redirect(s)" if response.redirects else ""
    size = len(response.content)
    log.append(f"← {response.status} {response.reason} in {response.elapsed_ms:.0f} ms, {size} bytes{redirects}")
    if not response.ok:
        log.append(f"  body {response.text[:MAX_LOGGED_BODY]}")
        message: Any = _lookup(response, _body(response), spec["error_message"]) if spec["error_message"] else _MISSING
        if message is _MISSING or message is None or message == "":
            message = response.reason or f"HTTP {response.status}"
        elif not isinstance(message, str):
            message = json.dumps(message, ensure_ascii=False)
        code = response.status if response.status >= 200 else TRANSPORT_FAILED
        return failed(code, message[:2000], status=response.status)
    outputs: dict[str, Any] = {}
    body = _body(response) if any(p.startswith("body") for p in spec["outputs"].values()) else None
    for name, path in spec["outputs"].items():
        value = _lookup(response, body, path)
        if value is _MISSING:
            log.append(f"  output {name}: {path} is not in the response")
        else:
            outputs[name] = value
    return HttpRunResult(
        outputs=mask(outputs, values), error=None, request_log=mask(log, values), status=response.status
    )
