"""The original product's answers on ``POST /component/run`` and ``POST /workflow/run``.

Its clients (the npm package ``synchronise``, the browser client, the Arduino library) treat only
HTTP 200 and 500 as answers: 200 carries the outputs object itself, 500 an error object. So on
these two routes every failure — a refused start, a run that failed, a bad key, a rate limit, an
outage, a run still going on when the answer's wait ends — is a 500 with ``{code, message, …}``.
A truthy ``S_C`` in the body (the Arduino library sends ``"S_C": "arduino"``) prefixes the answer
with ``1`` or ``0`` and makes it ``text/plain``. docs/legacy-clients.md has the table.

Shared by ``LegacyRunView`` (components) and ``LegacyWorkflowRunView`` (workflows): components
must not import workflows, so the shaping lives here.
"""

from __future__ import annotations

import json
import math
from typing import Any

from django.core.exceptions import SuspiciousOperation
from django.http import HttpResponse, QueryDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from components import errors
from components.errors import RunError

ARDUINO_FLAG = "S_C"
"""The body field that marks the Arduino client (not an input of the run)."""

SUCCESS_STATUS = 200
FAILURE_STATUS = 500  # the only failure status the original clients read

NO_KEY_MESSAGE = "You need to provide your PUBLIC KEY in the header of your request (x-synchronise-public-key)"

# Headers of a refused call worth keeping on the 500 (a rate limit's or an outage's wait).
_KEPT_HEADERS = ("Retry-After",)


def schema_responses(what: str, execution: Any) -> dict[Any, OpenApiResponse]:
    """The OpenAPI answers of an original route: ``execution`` is the serializer of its 202."""
    error = {"$ref": "#/components/schemas/Error"}  # synchronise/errors_schema.py
    flag = "; with a truthy `S_C` (Arduino), `text/plain`: "
    ok = f"The outputs object of {what}{flag}" + '`1{"sum":3}`.'
    failed = f"Every failure: `{{code, message, …}}`{flag}" + '`0{"code":102,…}`.'
    return {
        (200, "application/json"): OpenApiResponse(OpenApiTypes.OBJECT, description=ok),
        (200, "text/plain"): OpenApiResponse(OpenApiTypes.STR, description=ok),
        (202, "application/json"): OpenApiResponse(execution, description="With `?async=1` only: the queued run."),
        (500, "application/json"): OpenApiResponse(error, description=failed),
        (500, "text/plain"): OpenApiResponse(OpenApiTypes.STR, description=failed),
    }


def is_truthy(value: Any) -> bool:
    """JavaScript's truthiness, as the original read ``req.body["S_C"]``: ``"0"``, ``"false"``,
    ``[]`` and ``{}`` are truthy; ``false``, ``0``, ``""``, ``null`` and NaN are not."""
    if value is None or value is False or value == "":
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value != 0 and not (isinstance(value, float) and math.isnan(value))
    return True


def request_body(request: Request) -> Any:
    """The posted body: JSON as sent; a form's fields as single values."""
    data = request.data
    return data.dict() if isinstance(data, QueryDict) else data


def wants_arduino(request: Request) -> bool:
    """Whether the caller set the Arduino flag; a body that cannot be read has none."""
    try:
        body = request_body(request)
    except (exceptions.APIException, SuspiciousOperation):  # not JSON, too big: answered, without the flag
        return False
    return isinstance(body, dict) and is_truthy(body.get(ARDUINO_FLAG))


def split_body(body: Any, *, what: str) -> tuple[Any, dict[str, Any]]:
    """``(id, inputs)`` of ``{id, S_C?, …inputs}``; ``RunError`` 103 without an id (the flag is
    never an input)."""
    if not isinstance(body, dict) or body.get("id") in (None, ""):
        raise RunError(errors.MISSING_ID, f"{what} id not provided")
    inputs = dict(body)
    inputs.pop(ARDUINO_FLAG, None)
    return inputs.pop("id"), inputs


def _answer(payload: Any, *, ok: bool, arduino: bool, headers: dict[str, str] | None = None) -> HttpResponse:
    # Compact JSON, as the original's JSON.stringify; UTF-8 as is, unless a lone surrogate (which
    # UTF-8 cannot carry) asks for the \u escapes.
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    try:
        content = text.encode()
    except UnicodeEncodeError:
        content = json.dumps(payload, separators=(",", ":")).encode()
    if arduino:
        content = (b"1" if ok else b"0") + content
        content_type = "text/plain; charset=utf-8"
    else:
        content_type = "application/json; charset=utf-8"
    response = HttpResponse(content, status=SUCCESS_STATUS if ok else FAILURE_STATUS, content_type=content_type)
    for name, value in (headers or {}).items():
        response[name] = value
    # A 500 here is an answer, not a crash: Django would log each as "Internal Server Error".
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def success(outputs: Any, *, arduino: bool) -> HttpResponse:
    """200 with the outputs object itself (``1{…}`` for the Arduino)."""
    return _answer(outputs if outputs is not None else {}, ok=True, arduino=arduino)


def failure(error: dict[str, Any], *, arduino: bool, headers: dict[str, str] | None = None) -> HttpResponse:
    """500 with the error object ``{code, message, …}`` (``0{…}`` for the Arduino)."""
    return _answer(error, ok=False, arduino=arduino, headers=headers)


def refused(error: RunError, *, arduino: bool) -> HttpResponse:
    return failure(error.as_dict(), arduino=arduino)


def finished(*, status: str, outputs: Any, error: dict[str, Any] | None, arduino: bool) -> HttpResponse:
    """The answer for a run that ended: its outputs, or its error (the component's own code and
    message for an error it raised)."""
    if status == "succeeded" and not error:
        return success(outputs, arduino=arduino)
    return failure(error or {"code": errors.EXECUTION_FAILED, "message": f"the execution {status}"}, arduino=arduino)


def still_running(*, execution_id: Any, follow: str, waited: float, arduino: bool) -> HttpResponse:
    """The original only had runs answered when they ended: one still going on when the wait
    ends is a failure of the call (it goes on; ``execution`` says where to follow it)."""
    message = f"the run did not finish within {waited:g} s; it goes on: follow it at {follow}"
    body = {"code": errors.STILL_RUNNING, "message": message, "execution": str(execution_id)}
    return failure(body, arduino=arduino)


def exception_answer(exc: Exception, response: Response, *, arduino: bool) -> HttpResponse:
    """A call refused before it ran (DRF's exception handler answered ``response``) as a 500.

    A refused key — unknown, revoked, or from an origin it does not allow — is 105 "not allowed":
    the original had no code of its own for it (it answered 105 to a key of another account).
    Anything else keeps the code of ``docs/errors.md`` (``rate_limited``, ``service_unavailable``,
    ``parse_error``, ``invalid``…).
    """
    from synchronise.errors import shaped  # the one shape's words, for what is not a run error

    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed | exceptions.PermissionDenied):
        detail = exc.detail if isinstance(exc, exceptions.APIException) else ""
        body: dict[str, Any] = {"code": errors.NOT_ALLOWED, "message": f"You are not allowed to run this: {detail}"}
    else:
        body = shaped(response.data, response.status_code, exc)
    headers = {name: response[name] for name in _KEPT_HEADERS if response.has_header(name)}
    return failure(body, arduino=arduino, headers=headers)
