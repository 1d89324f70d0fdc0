"""Reading an answer: values at output paths, and the error a failed answer is — with a ``reason``
a workflow (and a person) can act on: ``auth``, ``rate_limit`` (with ``retry_after``),
``validation`` (the provider's message), ``remote``."""

from __future__ import annotations

import datetime
import email.utils
import json
import re
from collections.abc import Mapping
from typing import Any

from components.errors import TOO_DEEP
from synchronise.lib import jsonlimits, outbound

MISSING = object()
TRANSPORT_FAILED = 502
TIMED_OUT = 109  # as a code step that runs out of time (components/errors.py WALL_TIME)
VALIDATION = 400  # a 2xx answer that says it failed (ok_when / fail_when) and maps to no status
MAX_MESSAGE = 2000


class Failed(Exception):
    """A request that ends in an error (``error``: ``{code, message, reason, …}``)."""

    def __init__(self, code: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.error = {"code": code, "message": message, **extra}


def reason_for(status: int) -> str:
    if status in (401, 403):
        return "auth"
    if status == 429:
        return "rate_limit"
    if 400 <= status < 500 and status != 408:
        return "validation"  # the provider refused the request as made: its message says why
    return "remote"


def retry_after(headers: Mapping[str, str]) -> dict[str, float]:
    """``{"retry_after": seconds}`` from a ``Retry-After`` header (seconds or an HTTP date), so a
    workflow's retry policy can wait as long as the remote asked; ``{}`` without one."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), "").strip()
    if not value:
        return {}
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return {"retry_after": float(value)}
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return {}
    if when.tzinfo is None:
        return {}
    return {"retry_after": max((when - datetime.datetime.now(datetime.UTC)).total_seconds(), 0.0)}


def _waits(spec: Mapping[str, Any], response: outbound.OutboundResponse, body: Any) -> dict[str, float]:
    """The wait a rate-limited answer asks for: its ``Retry-After`` header, else the number of
    seconds at the spec's ``retry_after`` body path; ``{}`` when neither says."""
    header = retry_after(response.headers)
    if header or not spec.get("retry_after"):
        return header
    seconds = lookup(response, body, spec["retry_after"])
    if isinstance(seconds, int | float) and not isinstance(seconds, bool) and 0 <= seconds < 86_400:
        return {"retry_after": float(seconds)}
    return {}


def parsed_body(response: outbound.OutboundResponse) -> Any:
    """The body parsed as JSON, else its text (``None`` when empty).

    Raises ``Failed`` 125 for JSON nested deeper than ``jsonlimits.MAX_DEPTH``, before parsing it:
    every later step (masking, output paths, storing) would otherwise meet it.
    """
    if not response.content:
        return None
    text = response.text
    try:
        return jsonlimits.loads(text, where="the answer")
    except jsonlimits.TooDeep as error:
        raise Failed(TOO_DEEP, f"the remote API's {error}", reason="remote", limit=error.limit) from None
    except ValueError:
        return text


def lookup(response: outbound.OutboundResponse, body: Any, path: str) -> Any:
    """The value at ``path`` in the response, or ``MISSING``."""
    if path == "status":
        return response.status
    head, _, rest = path.partition(".")
    if head == "headers":
        return response.headers.get(rest, MISSING)
    return walk(body, rest)


def walk(value: Any, dotted: str) -> Any:
    """``value`` at ``a.0.b`` (keys and list indexes, ``-1`` the last), or ``MISSING``."""
    if not dotted:
        return value
    for segment in dotted.split("."):
        if isinstance(value, dict) and segment in value:
            value = value[segment]
        elif isinstance(value, list) and re.fullmatch(r"-?\d+", segment) and -len(value) <= int(segment) < len(value):
            value = value[int(segment)]
        else:
            return MISSING
    return value


def message_at(response: outbound.OutboundResponse, body: Any, path: str) -> str | None:
    """The provider's message at ``path`` (text; JSON text for anything else), or ``None``."""
    message: Any = lookup(response, body, path) if path else MISSING
    if message is MISSING or message is None or message == "":
        return None
    if not isinstance(message, str):
        message = json.dumps(message, ensure_ascii=False)
    return str(message)[:MAX_MESSAGE]


def refused(spec: Mapping[str, Any], response: outbound.OutboundResponse) -> dict[str, Any] | None:
    """The error this answer is, or ``None`` when it succeeded.

    Not 2xx: ``code`` is the status (502 below 200), the message from ``error_message`` or the
    reason phrase. 2xx: an error when ``ok_when`` is not truthy or ``fail_when`` is, with code 400
    and reason ``validation`` unless ``error_statuses`` maps the message to a status.
    """
    body = parsed_body(response)
    message = message_at(response, body, spec["error_message"])
    if not response.ok:
        code = response.status if response.status >= 200 else TRANSPORT_FAILED
        return {
            "code": code,
            "message": message or response.reason or f"HTTP {response.status}",
            "status": response.status,
            "reason": reason_for(code),
            **(_waits(spec, response, body) if code == 429 else retry_after(response.headers)),
        }
    if spec["ok_when"]:
        value = lookup(response, body, spec["ok_when"])
        if value is not MISSING and value:
            return None
        what = f"{spec['ok_when']} is not true"
    elif spec["fail_when"]:
        value = lookup(response, body, spec["fail_when"])
        if value is MISSING or not value:
            return None
        what = f"{spec['fail_when']} is set"
    else:
        return None
    mapped = spec["error_statuses"].get(message) if message else None
    code = mapped or VALIDATION
    return {
        "code": code,
        "message": message or f"the answer says it failed ({what})",
        "status": response.status,
        "reason": reason_for(code),
        **(_waits(spec, response, body) if code == 429 else {}),
    }
