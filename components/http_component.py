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
too large, unreachable → 502; timeout → 504; a template or credential problem → 400; a credential
about to go to a host outside its allowed hosts (first request or a redirect) → 400; each with
``reason``.
"""

from __future__ import annotations

import datetime
import email.utils
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from jinja2 import meta, nodes
from jinja2.sandbox import SecurityError
from rest_framework import serializers

from components.credentials import (
    SECRET_REFERENCE,
    CredentialError,
    CredentialHostRefused,
    UnknownSecret,
    host_guard,
    mask,
)
from synchronise.lib import outbound
from synchronise.lib.expressions import (
    TemplateProblem,
    as_text,
    compile_template,
    environment,
    render,
)

MAX_SPEC_BYTES = 100_000
MAX_LOGGED_BODY = 500
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
OUTPUT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
PATH = re.compile(r"^(status|body(\.[^.\s]+)*|headers\.[!#$%&'*+^_`|~0-9A-Za-z-]+)$")
SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key", "api-key"})
# X-Gitlab-Token, X-Auth-Token, X-Webhook-Secret, X-Shopify-Access-Token…; not signatures (an HMAC
# proves, it does not open).
SENSITIVE_HEADER = re.compile(r"x-(?:[a-z0-9-]+-)?(?:token|secret|key|password|auth)")

BUILD_FAILED = 400
TRANSPORT_FAILED = 502
TIMED_OUT = 504


def sensitive_header(name: str) -> bool:
    """Whether a header carries a credential: masked in request logs, not kept from webhooks."""
    name = name.lower()
    return name in SENSITIVE_HEADERS or SENSITIVE_HEADER.fullmatch(name) is not None


# --- Secrets in templates ---------------------------------------------------------------------


class _Secrets:
    """The ``secrets`` of a template: readable by name (``secrets.NAME``), not listable. Records the
    names read (``used``), whose allowed hosts the destination must then match."""

    __slots__ = ("_values", "used")

    def __init__(self, values: Mapping[str, str], used: set[str]) -> None:
        self._values = values
        self.used = used

    def __getitem__(self, name: str) -> str:
        if not isinstance(name, str):
            raise SecurityError("secrets cannot be listed; name one: secrets.NAME")
        if name not in self._values:
            raise UnknownSecret(name)
        self.used.add(name)
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        raise SecurityError("secrets cannot be listed; name one: secrets.NAME")

    def __str__(self) -> str:
        return "secrets"


def _references(source: str) -> tuple[set[str], set[str], set[str]]:
    """(input names, secret names, other top-level names) a template reads, as far as they are literal."""
    compile_template(source)  # raises TemplateProblem first
    tree = environment.parse(source)
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
        return render(value, context)
    if isinstance(value, dict):
        return {render(str(k), context, native=False): _render_tree(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [_render_tree(item, context) for item in value]
    return value


def _pairs(templates: Mapping[str, str], context: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Query or form fields: ``None`` leaves a field out, a list repeats it."""
    pairs: list[tuple[str, str]] = []
    for key, source in templates.items():
        value = render(str(source), context)
        for item in value if isinstance(value, list) else [value]:
            if item is not None:
                pairs.append((key, as_text(item)))
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
    url = render(spec["url"], context, native=False).strip()
    headers = {}
    for name, source in spec["headers"].items():
        value = render(source, context)
        if value is not None:
            headers[name] = as_text(value)
    built = _Request(method=spec["method"], url=url, params=_pairs(spec["query"], context), headers=headers)
    body = spec["body"]
    if body is not None:
        if body["type"] == "json":
            built.json = _render_tree(body["value"], context)
        elif body["type"] == "form":
            built.data = _pairs({k: str(v) for k, v in body["value"].items()}, context)
        else:
            built.data = render(body["value"], context, native=False).encode()
            if not any(name.lower() == "content-type" for name in headers):
                headers["Content-Type"] = body["content_type"] or "text/plain; charset=utf-8"
    return built


_MISSING = object()


def _retry_after(response: outbound.OutboundResponse) -> dict[str, float]:
    """``{"retry_after": seconds}`` from a ``Retry-After`` header (seconds or an HTTP date), so a
    workflow's retry policy can wait as long as the remote asked; ``{}`` without one."""
    value = next((v for k, v in response.headers.items() if k.lower() == "retry-after"), "").strip()
    if not value:
        return {}
    if value.isdigit():
        return {"retry_after": float(value)}
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return {}
    if when.tzinfo is None:
        return {}
    return {"retry_after": max((when - datetime.datetime.now(datetime.UTC)).total_seconds(), 0.0)}


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
    inputs: Mapping[str, Any], secrets: Mapping[str, str], names: Iterable[str], used: set[str]
) -> dict[str, Any]:
    """Inputs declared of type ``secret`` carry ``{{ secrets.NAME }}``: give templates the value.
    Only those inputs: a reference typed into any other input stays text, or a caller could make a
    component send any credential of the project wherever that input goes. The credentials given
    are added to ``used``."""
    resolved = dict(inputs)
    for name in names:
        value = resolved.get(name)
        match = SECRET_REFERENCE.fullmatch(value.strip()) if isinstance(value, str) else None
        if match:
            if match.group(1) not in secrets:
                raise UnknownSecret(match.group(1))
            used.add(match.group(1))
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
    declared of type ``secret``, whose ``{{ secrets.NAME }}`` value is substituted. ``max_bytes``:
    the largest response body, the plan's (``code_runner.response_bytes_for(project)``) for a run;
    ``None`` is ``OUTBOUND_MAX_BYTES``."""
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

    used: set[str] = set()  # the credentials this request carries, however a template used them
    try:
        spec = validate_http_spec(spec)
        context = {
            "inputs": _resolve_secret_inputs(inputs, secrets, secret_inputs, used),
            "secrets": _Secrets(secrets, used),
        }
        built = _build(spec, context)
    except ValidationError as error:
        return failed(BUILD_FAILED, "the HTTP spec is invalid: " + "; ".join(error.messages), reason="spec")
    except (CredentialError, TemplateProblem, SecurityError) as error:
        return failed(BUILD_FAILED, f"the request could not be built: {error}", reason="template")
    if not any(name.lower() == "idempotency-key" for name in built.headers):
        built.headers["Idempotency-Key"] = idempotency_key
    shown = {k: "••••••" if sensitive_header(k) else v for k, v in built.headers.items()}
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
            check_host=host_guard(used, secrets),  # each hop, before anything is sent there
        )
    except CredentialHostRefused as error:
        return failed(BUILD_FAILED, error.reason, reason="credential_host", credential=error.name)
    except outbound.OutboundTimeout as error:
        return failed(TIMED_OUT, error.reason, reason="timeout")
    except outbound.OutboundBlocked as error:
        return failed(TRANSPORT_FAILED, f"blocked: {error.reason}", reason="blocked")
    except outbound.OutboundTooLarge as error:
        # max_bytes is the plan's run_response_bytes when the caller passes it; the outbound default otherwise.
        too_large = f"response size limit of {error.limit} bytes exceeded: {error.reason}"
        return failed(TRANSPORT_FAILED, too_large, reason="too_large", limit=error.limit)
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
        return failed(code, message[:2000], status=response.status, **_retry_after(response))
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
