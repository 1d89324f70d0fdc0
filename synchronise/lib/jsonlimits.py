"""What JSON the platform accepts, stores and answers: a nesting limit and text that UTF-8 can carry.

Everything that walks JSON here is iterative. Python's own parser, encoder and ``copy`` recurse, so
a document nested a few hundred levels deep raises ``RecursionError`` wherever it is handled next
(a worker's masking step left a run ``running`` that way). Limiting the depth where JSON enters —
request bodies, run inputs, component outputs, third-party answers — keeps every later step safe.

Text: a JSON string may carry a lone surrogate (``"\\ud800"``); Python decodes it into a ``str``
that UTF-8 cannot encode and PostgreSQL cannot store. Such input is refused where it enters; an
answer that meets one anyway (a row written before) replaces it with U+FFFD instead of failing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer

MAX_DEPTH = 64
"""The deepest nesting of arrays and objects accepted (``[[1]]`` is 2 deep); see docs/components.md."""

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")
_SURROGATES = re.compile("[\ud800-\udfff]")


class TooDeep(ValueError):
    """JSON nested deeper than ``limit`` levels."""

    def __init__(self, limit: int, where: str = "JSON") -> None:
        super().__init__(f"{where} is nested deeper than {limit} levels")
        self.limit = limit


def text_depth(text: str) -> int:
    """The deepest nesting of arrays/objects in JSON ``text`` (strings skipped), without parsing it."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub("", text)):
        if bracket in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def loads(text: str | bytes, *, limit: int = MAX_DEPTH, where: str = "JSON") -> Any:
    """``json.loads`` that raises ``TooDeep`` before parsing a document nested deeper than ``limit``."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    if text_depth(text) > limit:
        raise TooDeep(limit, where)
    return json.loads(text)


def _walk(value: Any, path: str) -> Iterator[tuple[Any, str, int]]:
    """Every value in ``value`` with its dotted path and depth, without recursion."""
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        yield item, where, depth
        if isinstance(item, dict):
            depth += 1
            for key, child in item.items():
                yield key, where, depth  # keys are text too
                stack.append((child, f"{where}.{key}" if where else str(key), depth))
        elif isinstance(item, list | tuple):
            depth += 1
            stack.extend((child, f"{where}.{i}" if where else str(i), depth) for i, child in enumerate(item))


def depth(value: Any) -> int:
    """The nesting depth of a decoded JSON value (a scalar is 0, ``[1]`` is 1)."""
    deepest = 0
    for item, _path, level in _walk(value, ""):
        if isinstance(item, dict | list | tuple):
            deepest = max(deepest, level + 1)
    return deepest


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether a decoded value nests deeper than ``limit``; stops at the first level past it."""
    return any(level >= limit and isinstance(item, dict | list | tuple) for item, _path, level in _walk(value, ""))


def unencodable(value: Any, path: str = "") -> str | None:
    """The path of the first string (or key) UTF-8 cannot encode, or that PostgreSQL cannot store
    (NUL); ``None`` when there is none."""
    for item, where, _level in _walk(value, path):
        if isinstance(item, str) and (_SURROGATES.search(item) or "\x00" in item):
            return where or path
    return None


def scrub(text: str) -> str:
    """``text`` with every surrogate replaced by U+FFFD, so it encodes as UTF-8."""
    return _SURROGATES.sub("\ufffd", text)


class LimitedJSONParser(JSONParser):
    """DRF's JSON parser, refusing (400) bodies nested deeper than ``MAX_DEPTH`` before parsing them."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", "utf-8")
        raw = stream.read() if stream is not None else b""
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError) as error:
            raise ParseError(f"JSON parse error - {error}") from None
        if text_depth(text) > MAX_DEPTH:
            raise BodyTooDeep()
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
        except ValueError as error:
            raise ParseError(f"JSON parse error - {error}") from None
        where = unencodable(data)
        if where is not None:  # PostgreSQL refuses such text (a 500 when saved), UTF-8 cannot answer it
            raise BodyNotText(where)
        return data


class BodyTooDeep(ParseError):
    """400 ``{code: 125, message, limit}``: the run errors' shape, on every route."""

    def __init__(self) -> None:
        super().__init__()
        message = f"the body is JSON nested deeper than {MAX_DEPTH} levels"
        body: Any = {"code": TOO_DEEP_CODE, "message": message, "limit": MAX_DEPTH}  # ints kept (not ErrorDetail)
        self.detail = body


class BodyNotText(ParseError):
    """400 ``{code: 101, message, incorrect: [{name, …}]}``: a string in the body (``where``, a dotted
    path whose first part is the field, or the input on a run route) with a lone surrogate or NUL."""

    def __init__(self, where: str) -> None:
        super().__init__()
        where = scrub(where[:200])
        name = where.split(".", 1)[0][:64]
        body: Any = {
            "code": INCORRECT_INPUT_CODE,
            "message": f"{where or 'the body'} is not valid Unicode text (a lone surrogate or NUL)",
            "incorrect": [{"name": name, "expected": "text UTF-8 can encode", "given": "a lone surrogate or NUL"}],
        }
        self.detail = body


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


TOO_DEEP_CODE = 125  # components.errors.TOO_DEEP (the lib sits below the apps)
INCORRECT_INPUT_CODE = 101  # components.errors.INCORRECT_INPUT


class SafeJSONRenderer(JSONRenderer):
    """DRF's JSON renderer; a value already stored that UTF-8 cannot encode answers as U+FFFD, not 500."""

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            return super().render(scrubbed(data), accepted_media_type, renderer_context)


def scrubbed(value: Any) -> Any:
    """A copy of a JSON-like value whose strings (and keys) encode as UTF-8."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrubbed(key): scrubbed(child) for key, child in value.items()}
    if isinstance(value, list | tuple):
        return [scrubbed(child) for child in value]
    return value
