"""Validating an ``http`` spec at save time (and again before each run): every field checked, each
message starting with the field it is about (``"body.type: …"``, ``"paginate.next.cursor: …"``)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from jinja2 import meta, nodes
from rest_framework import serializers

from synchronise.lib import outbound
from synchronise.lib.expressions import TemplateProblem, compile_template, environment

MAX_SPEC_BYTES = 100_000
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
OUTPUT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
PATH = re.compile(r"^(status|body(\.[^.\s]+)*|headers\.[!#$%&'*+^_`|~0-9A-Za-z-]+)$")
BODY_PATH = re.compile(r"^body(\.[^.\s]+)*$")
DEFAULT_PAGES = 10
MAX_PAGES = 100
MAX_TEMPLATE = 10_000
BODY_TYPES = ("json", "form", "raw", "multipart", "email")
AUTH_TYPES = ("none", "bearer", "basic", "header", "query")


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


class _Template(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("max_length", 10_000)
        super().__init__(**kwargs)


class _Strict(serializers.Serializer):
    """Unknown fields are errors, not ignored: a typo must not silently change what is sent."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = set(data) - set(self.fields)
            if unknown:
                raise serializers.ValidationError({name: ["unknown field"] for name in sorted(unknown)})
        return super().to_internal_value(data)


def templated(value: Any) -> bool:
    """A value decided at run time: a string with a ``{{ … }}`` in it."""
    return isinstance(value, str) and "{{" in value


class _BodySerializer(_Strict):
    type = _Template(allow_blank=False, max_length=500)  # one of BODY_TYPES, or a template of one (or "none")
    value = serializers.JSONField(required=False, default=None)
    content_type = _Template(required=False, max_length=500, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        kind, value = attrs["type"], attrs.get("value")
        if not templated(kind) and kind not in BODY_TYPES:
            raise serializers.ValidationError({"type": [f"one of {', '.join(BODY_TYPES)}, or a template of one"]})
        fields = isinstance(value, dict) and all(isinstance(v, str | int | float | bool) for v in value.values())
        if kind == "email" and not fields:
            raise serializers.ValidationError({"value": ["an object of text templates"]})
        if kind in ("form", "multipart") and not (fields or templated(value)):
            raise serializers.ValidationError({"value": ["an object of text templates, or one template of an object"]})
        if kind == "raw" and not isinstance(value, str):
            raise serializers.ValidationError({"value": ["a text template"]})
        if kind != "raw" and not templated(kind) and attrs.get("content_type"):
            raise serializers.ValidationError({"content_type": ["only for a raw body"]})
        return attrs


class _NextSerializer(_Strict):
    """``link: true`` or a ``cursor`` path; each may be a template (off when it renders false / empty)."""

    link = serializers.JSONField(required=False, default=False)  # type: ignore[arg-type]  # a bool or a template
    cursor = _Template(required=False, max_length=500, default="")
    param = _Template(required=False, max_length=500, default="")
    more = _Template(required=False, max_length=500, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(attrs["link"], bool) and not templated(attrs["link"]):
            raise serializers.ValidationError({"link": ["true, false or a template"]})
        if any(templated(value) for value in attrs.values()):
            return attrs  # checked once rendered (run.paging)
        problem = next_problem(attrs)
        if problem:
            raise serializers.ValidationError({problem[0]: [problem[1]]} if problem[0] else [problem[1]])
        return attrs


def next_problem(following: Mapping[str, Any]) -> tuple[str, str] | None:
    """(field, message) of what is wrong with a (rendered) ``paginate.next``, or ``None``."""
    if bool(following["link"]) == bool(following["cursor"]):
        return "", "either link: true or a cursor path"
    if following["cursor"] and not following["param"]:
        return "param", "the query parameter that carries the cursor"
    if following["link"] and (following["param"] or following["more"]):
        return "link", "param and more go with a cursor"
    for name in ("cursor", "more"):
        if following[name] and not BODY_PATH.match(following[name]):
            return name, "body or body.<path>"
    return None


class _PaginateSerializer(_Strict):
    items = _Template(allow_blank=False, max_length=500)
    next = _NextSerializer()
    max_pages = serializers.JSONField(required=False, default=DEFAULT_PAGES)  # type: ignore[arg-type]  # an int or a template

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not templated(attrs["items"]) and not BODY_PATH.match(attrs["items"]):
            raise serializers.ValidationError({"items": ["body or body.<path> of each page's list"]})
        pages = attrs["max_pages"]
        if isinstance(pages, bool) or not isinstance(pages, int | str):
            raise serializers.ValidationError({"max_pages": [f"a number from 1 to {MAX_PAGES}, or a template"]})
        if isinstance(pages, int) and not 1 <= pages <= MAX_PAGES:
            raise serializers.ValidationError({"max_pages": [f"a number from 1 to {MAX_PAGES}"]})
        attrs["next"] = dict(attrs["next"])
        return attrs


class _AuthSerializer(_Strict):
    """Where a credential goes: ``type`` one of AUTH_TYPES (or a template of one)."""

    type = _Template(allow_blank=False, max_length=500)
    credential = _Template(required=False, default="")
    username = _Template(required=False, default="")  # basic: with credential as the password
    name = _Template(required=False, max_length=500, default="")  # header: its name; query: the parameter's

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not templated(attrs["type"]) and attrs["type"] not in AUTH_TYPES:
            raise serializers.ValidationError({"type": [f"one of {', '.join(AUTH_TYPES)}, or a template of one"]})
        return attrs


class _SignSerializer(_Strict):
    header = serializers.CharField(max_length=200)
    secret = _Template(allow_blank=False)
    prefix = serializers.CharField(required=False, allow_blank=True, max_length=50, default="")
    algorithm = serializers.ChoiceField(choices=["sha256"], required=False, default="sha256")


class _SpecSerializer(_Strict):
    method = _Template(allow_blank=False, max_length=500, default="GET")  # a method, or a template of one
    url = _Template(allow_blank=False, max_length=4000)
    # An object of templates, or one template of an object (names decided at run time).
    query = serializers.JSONField(required=False, default=dict)
    headers = serializers.JSONField(required=False, default=dict)
    body = _BodySerializer(required=False, allow_null=True, default=None)
    outputs = serializers.DictField(child=serializers.CharField(max_length=500), required=False, default=dict)
    error_message = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")
    ok_when = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")
    fail_when = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")
    # Where a provider that sends no Retry-After header puts its wait, in seconds (Telegram:
    # body.parameters.retry_after); read on a rate-limited answer when the header is absent.
    retry_after = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")
    error_statuses = serializers.DictField(
        child=serializers.IntegerField(min_value=400, max_value=599), required=False, default=dict
    )
    paginate = _PaginateSerializer(required=False, allow_null=True, default=None)
    sign = _SignSerializer(required=False, allow_null=True, default=None)
    auth = _AuthSerializer(required=False, allow_null=True, default=None)


def _flatten(errors: Any, prefix: str = "") -> list[str]:
    if isinstance(errors, dict):
        return [m for key, inner in errors.items() for m in _flatten(inner, f"{prefix}.{key}" if prefix else str(key))]
    if isinstance(errors, list):
        return [m for inner in errors for m in _flatten(inner, prefix)]
    if prefix.endswith(".non_field_errors"):
        prefix = prefix.removesuffix(".non_field_errors")
    return [f"{prefix}: {errors}" if prefix and prefix != "non_field_errors" else str(errors)]


def _templates(spec: dict[str, Any]) -> Iterable[tuple[str, str]]:
    """(field path, template) for every template string of a validated spec."""
    yield "url", spec["url"]
    for section in ("query", "headers"):
        if isinstance(spec[section], str):
            yield section, spec[section]
            continue
        if not isinstance(spec[section], dict):
            continue  # a shape problem already
        for key, value in spec[section].items():
            if isinstance(value, str):  # anything else is a shape problem already
                yield f"{section}.{key}", value
    yield "method", spec["method"]
    if spec["sign"] is not None:
        yield "sign.secret", spec["sign"]["secret"]
    if spec["auth"] is not None:
        for key, value in spec["auth"].items():
            yield f"auth.{key}", value
    paginate = spec["paginate"]
    if paginate is not None:
        yield "paginate.items", paginate["items"]
        if isinstance(paginate["max_pages"], str):
            yield "paginate.max_pages", paginate["max_pages"]
        for key, value in paginate["next"].items():
            if isinstance(value, str):
                yield f"paginate.next.{key}", value
    body = spec["body"]
    if body is None:
        return
    yield "body.type", body["type"]
    yield "body.content_type", body["content_type"]
    if isinstance(body["value"], str):
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


def _shape_problems(clean: dict[str, Any], declared_outputs: set[str] | None) -> list[str]:
    problems: list[str] = []
    for section in ("query", "headers"):
        value = clean[section]
        if not isinstance(value, str | dict) or (isinstance(value, str) and not templated(value)):
            problems.append(f"{section}: an object of templates, or one template of an object")
        elif isinstance(value, dict):
            for name, inner in value.items():
                if not isinstance(inner, str):
                    problems.append(f"{section}.{name}: a text template")
                elif len(inner) > MAX_TEMPLATE:
                    problems.append(f"{section}.{name}: at most {MAX_TEMPLATE} characters")
                elif section == "headers" and not HEADER_NAME.match(name):
                    problems.append(f"headers.{name}: not a valid header name")
                elif not name:
                    problems.append(f"{section}: a parameter needs a name")
    url = clean["url"]
    method = clean["method"]
    if not templated(method) and method.upper() not in outbound.METHODS:
        problems.append(f"method: one of {', '.join(sorted(outbound.METHODS))}, or a template of one")
    email = clean["body"] is not None and clean["body"]["type"] == "email"
    if email:
        from components.http_component.smtp import check_spec

        problems.extend(check_spec(clean))
    elif "{" not in url and not re.match(r"^https?://[^/\s]", url, re.IGNORECASE):
        problems.append("url: an http:// or https:// URL")
    paginated = clean["paginate"] is not None
    for name, path in clean["outputs"].items():
        if not OUTPUT_NAME.match(name):
            problems.append(f"outputs.{name}: letters, digits and underscores, not starting with a digit")
        elif declared_outputs is not None and name not in declared_outputs:
            problems.append(f"outputs.{name}: no output named {name}")
        if path == "items" and not paginated:
            problems.append(f"outputs.{name}: items is the paginated list; add paginate")
        elif path != "items" and not PATH.match(path):
            problems.append(f"outputs.{name}: status, headers.<Name>, body or body.<path> (or items)")
    for field in ("error_message", "ok_when", "fail_when", "retry_after"):
        path = clean[field]
        if path and not BODY_PATH.match(path):
            problems.append(f"{field}: body or body.<path>")
    if clean["ok_when"] and clean["fail_when"]:
        problems.append("fail_when: ok_when or fail_when, not both")
    if clean["error_statuses"] and not clean["error_message"]:
        problems.append("error_statuses: needs error_message, the path of the message they map")
    if clean["sign"] is not None and not HEADER_NAME.match(clean["sign"]["header"]):
        problems.append("sign.header: not a valid header name")
    if email and (paginated or clean["sign"] is not None):
        problems.append("body.type: an email is not paginated or signed")
    return problems


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
    if isinstance(spec.get("method"), str) and not templated(spec["method"]):
        spec = {**spec, "method": spec["method"].upper()}
    serializer = _SpecSerializer(data=spec)
    if not serializer.is_valid():
        raise ValidationError(_flatten(serializer.errors))
    clean: dict[str, Any] = dict(serializer.validated_data)
    for part in ("body", "paginate", "sign", "auth"):
        clean[part] = dict(clean[part]) if clean[part] is not None else None
    declared_inputs = {i["name"] for i in inputs} if inputs is not None else None
    declared_outputs = {o["name"] for o in outputs} if outputs is not None else None
    problems = _shape_problems(clean, declared_outputs)
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
    if problems:
        raise ValidationError(problems)
    return clean
