"""Building the request of an ``http`` spec: templates rendered over ``inputs`` and ``secrets``, the
body encoded (json, form, raw, multipart) to the exact bytes sent, and signed when the spec says so."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets as random
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from jinja2.sandbox import SecurityError

from components.credentials import SECRET_REFERENCE, UnknownSecret
from components.http_component.spec import AUTH_TYPES, BODY_TYPES, HEADER_NAME
from synchronise.lib import outbound
from synchronise.lib.expressions import TemplateProblem, as_text, render


class Secrets:
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


def resolve_secret_inputs(
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


def render_tree(value: Any, context: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        return render(value, context)
    if isinstance(value, dict):
        return {render(str(k), context, native=False): render_tree(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [render_tree(item, context) for item in value]
    return value


def _mapping(source: Mapping[str, Any] | str, field: str, context: Mapping[str, Any]) -> dict[str, Any]:
    """Rendered name → value: an object of templates, or one template of an object."""
    if isinstance(source, str):
        rendered = render(source, context)
        if rendered is None:
            return {}
        if not isinstance(rendered, dict):
            raise TemplateProblem(f"{field}: an object, not {type(rendered).__name__}")
        return {str(key): value for key, value in rendered.items()}
    return {key: render(str(value), context) for key, value in source.items()}


def pairs(
    templates: Mapping[str, Any] | str, context: Mapping[str, Any], field: str = "query"
) -> list[tuple[str, str]]:
    """Query or form fields: ``None`` leaves a field out, a list repeats it."""
    found: list[tuple[str, str]] = []
    for key, value in _mapping(templates, field, context).items():
        for item in value if isinstance(value, list) else [value]:
            if item is not None:
                found.append((key, as_text(item)))
    return found


@dataclass
class Request:
    method: str
    url: str
    params: list[tuple[str, str]]
    headers: dict[str, str]
    data: bytes | None = None  # the body, encoded
    kept: list[tuple[str, str]] = field(default_factory=list)  # query auth: sent with every page too

    def has_header(self, name: str) -> bool:
        return any(key.lower() == name.lower() for key in self.headers)


def multipart(fields: list[tuple[str, str]]) -> tuple[bytes, str]:
    """``multipart/form-data`` of text fields: the body and its Content-Type (with the boundary)."""
    boundary = "synchronise-" + random.token_hex(16)
    parts: list[bytes] = []
    for name, value in fields:
        quoted = name.replace("\\", "\\\\").replace('"', '\\"').replace("\r", " ").replace("\n", " ")
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{quoted}"\r\n'
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n".encode()
            + value.encode()
            + b"\r\n"
        )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def _fields(source: Any, context: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Form or multipart fields: an object of templates, or one template of an object."""
    return pairs(source, context, field="body.value")


def _text(source: str, context: Mapping[str, Any]) -> str:
    value = render(source, context)
    return "" if value is None else as_text(value).strip()


def _body(built: Request, body: Mapping[str, Any], context: Mapping[str, Any]) -> None:
    kind = _text(body["type"], context).lower()
    if kind in ("", "none"):
        return
    if kind not in BODY_TYPES or kind == "email":
        raise TemplateProblem(f"body.type: {kind!r} is not one of json, form, multipart, raw, none")
    if kind == "json":
        # Encoded here, not by the client, so a signature covers the very bytes sent.
        built.data = json.dumps(render_tree(body["value"], context), allow_nan=False).encode()
        content_type = "application/json"
    elif kind == "form":
        built.data = urlencode(_fields(body["value"], context)).encode()
        content_type = "application/x-www-form-urlencoded"
    elif kind == "multipart":
        built.data, content_type = multipart(_fields(body["value"], context))
    else:
        if not isinstance(body["value"], str):
            raise TemplateProblem("body.value: a raw body is one text template")
        built.data = render(body["value"], context, native=False).encode()
        content_type = _text(body["content_type"], context) or "text/plain; charset=utf-8"
    if kind == "multipart" or not built.has_header("Content-Type"):
        # A multipart body's boundary is ours: a Content-Type from the spec would not match it.
        built.headers = {k: v for k, v in built.headers.items() if k.lower() != "content-type"}
        built.headers["Content-Type"] = content_type


def _auth(built: Request, auth: Mapping[str, Any], context: Mapping[str, Any]) -> None:
    """Put the credential where ``auth.type`` says: bearer, basic, a header or a query parameter."""
    kind = _text(auth["type"], context).lower()
    if kind in ("", "none"):
        return
    if kind not in AUTH_TYPES:
        raise TemplateProblem(f"auth.type: {kind!r} is not one of {', '.join(AUTH_TYPES)}")
    credential = _text(auth["credential"], context)
    if not credential:
        raise TemplateProblem(f"auth.credential: {kind} authentication needs a credential")
    name = _text(auth["name"], context)
    if kind == "bearer":
        built.headers["Authorization"] = f"Bearer {credential}"
    elif kind == "basic":
        username = _text(auth["username"], context)
        pair = f"{username}:{credential}" if username else credential
        built.headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    elif kind == "header":
        name = name or "X-API-Key"
        if not HEADER_NAME.match(name):
            raise TemplateProblem(f"auth.name: {name!r} is not a header name")
        built.headers[name] = credential
    else:
        built.params = [(key, value) for key, value in built.params if key != (name or "api_key")]
        built.params.append((name or "api_key", credential))
        built.kept = [(name or "api_key", credential)]


def build(spec: dict[str, Any], context: Mapping[str, Any]) -> Request:
    """The first request of a spec (``email`` bodies are built by ``smtp``, not here)."""
    method = _text(spec["method"], context).upper()
    if method not in outbound.METHODS:
        raise TemplateProblem(f"method: {method!r} is not one of {', '.join(sorted(outbound.METHODS))}")
    url = render(spec["url"], context, native=False).strip()
    headers = {}
    for name, value in _mapping(spec["headers"], "headers", context).items():
        if value is not None:
            if not HEADER_NAME.match(name):
                raise TemplateProblem(f"headers: {name!r} is not a header name")
            headers[name] = as_text(value)
    built = Request(method=method, url=url, params=pairs(spec["query"], context), headers=headers)
    if spec["auth"] is not None:
        _auth(built, spec["auth"], context)
    if spec["body"] is not None:
        _body(built, spec["body"], context)
    if spec["sign"] is not None:
        sign(built, spec["sign"], context)
    return built


def sign(built: Request, signing: Mapping[str, Any], context: Mapping[str, Any]) -> None:
    """Add ``signing["header"]``: prefix + hex HMAC-SHA256 of the exact body bytes, keyed with the
    rendered ``secret`` (a webhook receiver recomputes it to check who sent the body)."""
    key = as_text(render(signing["secret"], context))
    if not key:
        raise SecurityError("sign.secret rendered empty: a signature needs a key")
    digest = hmac.new(key.encode(), built.data or b"", hashlib.sha256).hexdigest()
    built.headers[signing["header"]] = f"{signing['prefix']}{digest}"
