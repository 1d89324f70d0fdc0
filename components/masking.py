"""Masking credentials in what leaves the host: logs, errors, outputs and stored inputs.

``mask(value, secrets)`` replaces every secret, and the forms it is transformed into on the way out,
by ``••••••`` in every string nested in ``value``. Re-exported by ``components.credentials``.
"""

from __future__ import annotations

import base64
import functools
import html
import json
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "••••••"
MIN_MASKED_LENGTH = 4  # shorter values would mask ordinary words and digits everywhere
MIN_BASE64_CORE = 6  # a shorter run of base64 characters is too common to be taken for a credential
_BASE64_RUN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_")


def _text_variants(secret: str) -> set[str]:
    """The forms ``secret`` takes in text, matched without regard to case: as is, percent-encoded
    (``quote``, ``quote_plus``), JSON- and HTML-escaped, hex, and its base64 on its own."""
    raw = secret.encode()
    found = {
        secret,
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        html.escape(secret),
        raw.hex(),
    }
    for encoded in (base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()):
        found.update({encoded, encoded.rstrip("=")})
    return found


def _base64_cores(secret: str) -> set[str]:
    """The characters of a base64 text that depend on ``secret``'s bytes alone, for each of the three
    places it can start within a 3-byte group: found in ``base64(anything + secret + anything)``,
    e.g. the ``Authorization: Basic`` header made from a URL's ``user:secret@``."""
    raw = secret.encode()
    cores: set[str] = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw + b"\0\0").decode()
        first = -(-8 * offset // 6)  # the first character made of the secret's bits only
        last = (8 * (offset + len(raw))) // 6  # one past the last such character
        core = encoded[first:last]
        if len(core) >= MIN_BASE64_CORE:
            cores.update({core, core.replace("+", "-").replace("/", "_")})
    return cores


@functools.lru_cache(maxsize=64)
def _masker(secrets: tuple[str, ...]) -> re.Pattern[str] | None:
    """One pattern for every form of every secret: the group ``b`` is a base64 core (case matters),
    the rest are text forms (any case, as a host name or an error message lower-cases them)."""
    texts: set[str] = set()
    cores: set[str] = set()
    for secret in secrets:
        texts.update(_text_variants(secret))
        cores.update(_base64_cores(secret))
    texts = {text for text in texts if len(text) >= MIN_MASKED_LENGTH}
    if not texts and not cores:
        return None

    def union(forms: set[str]) -> str:
        return "|".join(re.escape(form) for form in sorted(forms, key=len, reverse=True))

    parts = [f"(?P<b>{union(cores)})"] if cores else []
    if texts:
        parts.append(f"(?i:{union(texts)})")
    return re.compile("|".join(parts))


def _mask_text(text: str, pattern: re.Pattern[str]) -> str:
    spans: list[tuple[int, int]] = []
    for match in pattern.finditer(text):
        start, end = match.span()
        if "b" in pattern.groupindex and match.group("b") is not None:
            # The whole base64 token: its first and last characters mix the secret's bits with
            # its neighbours', and the rest of it (the user of user:secret) is not worth keeping.
            while start > 0 and text[start - 1] in _BASE64_RUN:
                start -= 1
            while end < len(text) and (text[end] in _BASE64_RUN or text[end] == "="):
                end += 1
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((start, end))
    if not spans:
        return text
    pieces: list[str] = []
    position = 0
    for start, end in spans:
        pieces += [text[position:start], MASK]
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def _map_strings(value: Any, leaf: Callable[[str], Any]) -> Any:
    """``value`` with ``leaf`` applied to every string in it (dict keys too), through dicts, lists and
    tuples, without recursion: a value nested thousands deep is walked like a flat one."""
    if isinstance(value, str):
        return leaf(value)
    if not isinstance(value, dict | list | tuple):
        return value
    stack: list[_Frame] = [_Frame(value)]
    while True:
        frame = stack[-1]
        child: Any = next(frame.children, _END)
        if child is _END:
            stack.pop()
            done = frame.result()
            if not stack:
                return done
            stack[-1].add(done)
            continue
        if frame.is_dict:
            key: Any = child[0]
            child = child[1]
            frame.key = _map_strings(key, leaf) if isinstance(key, str | tuple) else key
        if isinstance(child, dict | list | tuple):
            stack.append(_Frame(child))
        else:
            frame.add(leaf(child) if isinstance(child, str) else child)


_END = object()


class _Frame:
    """A container being rebuilt by :func:`_map_strings`."""

    __slots__ = ("children", "is_dict", "is_tuple", "key", "out")

    def __init__(self, container: dict[Any, Any] | list[Any] | tuple[Any, ...]) -> None:
        self.is_dict = isinstance(container, dict)
        self.is_tuple = isinstance(container, tuple)
        self.children: Iterator[Any] = iter(container.items() if isinstance(container, dict) else container)
        self.out: Any = {} if self.is_dict else []
        self.key: Any = None

    def add(self, item: Any) -> None:
        if self.is_dict:
            self.out[self.key] = item
        else:
            self.out.append(item)

    def result(self) -> Any:
        return tuple(self.out) if self.is_tuple else self.out


def mask(value: Any, secrets: Iterable[str]) -> Any:
    """``value`` with every occurrence of each secret (of 4 characters or more) replaced by ``••••••``.

    The forms a secret takes on its way out are masked too: percent-, JSON- and HTML-encoded, hex,
    in any case (a host name or an error message lower-cases it), and base64 — on its own or inside
    a longer base64 text (``Authorization: Basic`` of ``user:secret``: the whole token is masked).
    Walks strings nested in dicts (keys too), lists and tuples, at any depth; other values are
    returned as they are.
    """
    chosen = tuple(sorted({s for s in secrets if isinstance(s, str) and len(s) >= MIN_MASKED_LENGTH}))
    pattern = _masker(chosen) if chosen else None
    if pattern is None:
        return value
    return _map_strings(value, lambda text: _mask_text(text, pattern))
