"""Building the request of an ``http`` spec: templates rendered over ``inputs`` and ``secrets``, the
body encoded (json, form, raw, multipart) to the exact bytes sent, and signed when the spec says so."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets as random
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from jinja2.sandbox import SecurityError

from components.credentials import SECRET_REFERENCE, UnknownSecret
from synchronise.lib.expressions import as_text, render


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


def pairs(templates: Mapping[str, Any], context: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Query or form fields: ``None`` leaves a field out, a list repeats it."""
    found: list[tuple[str, str]] = []
    for key, source in templates.items():
        value = render(str(source), context)
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


def build(spec: dict[str, Any], context: Mapping[str, Any]) -> Request:
    """The first request of a spec (``email`` bodies are built by ``smtp``, not here)."""
    url = render(spec["url"], context, native=False).strip()
    headers = {}
    for name, source in spec["headers"].items():
        value = render(source, context)
        if value is not None:
            headers[name] = as_text(value)
    built = Request(method=spec["method"], url=url, params=pairs(spec["query"], context), headers=headers)
    body = spec["body"]
    content_type = ""
    if body is not None:
        if body["type"] == "json":
            # Encoded here, not by the client, so a signature covers the very bytes sent.
            built.data = json.dumps(render_tree(body["value"], context), allow_nan=False).encode()
            content_type = "application/json"
        elif body["type"] == "form":
            built.data = urlencode(pairs({k: str(v) for k, v in body["value"].items()}, context)).encode()
            content_type = "application/x-www-form-urlencoded"
        elif body["type"] == "multipart":
            built.data, content_type = multipart(pairs({k: str(v) for k, v in body["value"].items()}, context))
        else:
            built.data = render(body["value"], context, native=False).encode()
            content_type = body["content_type"] or "text/plain; charset=utf-8"
        if body["type"] == "multipart" or not built.has_header("Content-Type"):
            # A multipart body's boundary is ours: a Content-Type from the spec would not match it.
            built.headers = {k: v for k, v in built.headers.items() if k.lower() != "content-type"}
            built.headers["Content-Type"] = content_type
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
