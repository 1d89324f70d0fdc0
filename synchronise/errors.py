"""One shape for every error of the JSON API: ``{"code": …, "message": "…", …details}`` (docs/errors.md).

``code`` is the original product's number where one exists (101 wrong input type, 102 missing
input, 108 quota…, ``components/errors.py``) and a stable word otherwise (``invalid``,
``not_authenticated``, ``forbidden``, ``not_found``, ``rate_limited``, ``payload_too_large``…);
``message`` is for people; the details a client can act on ride beside them (``errors`` per field,
``limit``, ``retry_after``, ``incorrect``, ``missing``).

Three places give that shape, so no error of the API escapes it:

- ``exception_handler`` (DRF's ``EXCEPTION_HANDLER``): what a DRF view raises, outages (503) included;
- ``ApiErrorMiddleware``: an error a DRF view answers itself (``Response({...}, status=400)``) in
  another shape;
- ``bad_request``/``permission_denied``/``page_not_found``/``server_error`` (``handler400``… in
  ``synchronise/urls.py``): what Django answers before or around a view — an unknown URL under
  ``/api/``, a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` read outside DRF, a crash. Pages keep
  their HTML.

The original product's run routes (``POST /component/run``, ``POST /workflow/run``) answer as the
original did — 200 with the outputs, 500 with this shape for every failure — through their own
views (``components/legacy.py``, docs/legacy-clients.md); the handler here leaves them to those.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.utils.deprecation import MiddlewareMixin
from django.views import defaults
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.settings import api_settings

from synchronise import outages

API_PREFIXES = ("/api/", "/hooks/")
"""Paths answered in JSON: the REST API, the cloud functions' HTTP face, webhooks."""

LEGACY_ROUTES = frozenset({"legacy-component-run", "legacy-workflow-run"})
"""URL names of the original product's run routes, whose answers are not ours to reshape."""

MESSAGE_FIELDS = 5  # fields named in a validation error's message; all of them are in ``errors``

# DRF's exceptions → our codes. DRF's own ``default_code`` where it reads well; the words the
# cloud functions already answer (realtime/calls.py) where they differ, so one word means one thing.
_CODES: tuple[tuple[type[exceptions.APIException], str], ...] = (
    (exceptions.ValidationError, "invalid"),
    (exceptions.NotAuthenticated, "not_authenticated"),
    (exceptions.AuthenticationFailed, "authentication_failed"),
    (exceptions.PermissionDenied, "forbidden"),
    (exceptions.NotFound, "not_found"),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.NotAcceptable, "not_acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (exceptions.Throttled, "rate_limited"),  # as the webhook's own limit (workflows/webhooks.py)
    (exceptions.ParseError, "parse_error"),
)
# For an error answered without an exception: the code that fits its status.
_STATUS_CODES = {
    400: "invalid",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    500: "server_error",
    503: outages.CODE,
}


def is_api_request(request: HttpRequest | None) -> bool:
    """Whether ``request`` is for the JSON API (the legacy run routes lie outside its prefixes)."""
    return request is not None and request.path.startswith(API_PREFIXES)


def _is_legacy(request: HttpRequest | None) -> bool:
    match = getattr(request, "resolver_match", None)
    return match is not None and match.url_name in LEGACY_ROUTES


def error_body(code: int | str, message: str, **details: Any) -> dict[str, Any]:
    return {"code": code, "message": message, **details}


def error_response(status: int, code: int | str, message: str, **details: Any) -> JsonResponse:
    """An error of the API answered by a plain Django view."""
    return JsonResponse(error_body(code, message, **details), status=status)


def is_shaped(data: Any) -> bool:
    """Whether ``data`` already is an error of our shape (a run error, a cloud function's error…)."""
    return (
        isinstance(data, dict)
        and isinstance(data.get("message"), str)
        and isinstance(data.get("code"), int | str)
        and not isinstance(data.get("code"), bool)
    )


def _messages(value: Any, path: str) -> Iterator[str]:
    """``field: message`` lines of a DRF error detail (nested dicts and lists walked)."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _messages(child, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for index, child in enumerate(value):
            # A list of messages reads as them; a list of objects (ListSerializer) by its index.
            yield from _messages(child, path if not isinstance(child, dict | list) else f"{path}[{index}]")
    elif value not in (None, ""):
        name = path if path and path != api_settings.NON_FIELD_ERRORS_KEY else ""
        yield f"{name}: {value}" if name else str(value)


def validation_body(detail: Any, code: int | str = "invalid") -> dict[str, Any]:
    """``{code, message, errors: {field: [messages]}}`` for a DRF validation error's ``detail``;
    the message names the fields (``name: This field is required.``)."""
    if not isinstance(detail, dict):
        detail = {api_settings.NON_FIELD_ERRORS_KEY: detail if isinstance(detail, list) else [detail]}
    lines = list(_messages(detail, ""))
    message = "; ".join(lines[:MESSAGE_FIELDS]) or "the request is not valid"
    if len(lines) > MESSAGE_FIELDS:
        message += f"; and {len(lines) - MESSAGE_FIELDS} more"
    return error_body(code, message, errors=detail)


def shaped(data: Any, status: int, exc: BaseException | None = None) -> Any:
    """``data`` (an error answer's body) in the one shape; unchanged if it already is."""
    if is_shaped(data):
        return data
    code = next((code for kind, code in _CODES if isinstance(exc, kind)), _STATUS_CODES.get(status, "error"))
    field_errors = isinstance(exc, exceptions.ValidationError) or (exc is None and status == 400)
    if field_errors and isinstance(data, dict | list) and not (isinstance(data, dict) and set(data) == {"detail"}):
        return validation_body(data, code)
    detail = data.get("detail") if isinstance(data, dict) else data
    extra = {key: value for key, value in data.items() if key != "detail"} if isinstance(data, dict) else {}
    body = error_body(code, str(detail) if detail not in (None, "") else code.replace("_", " "), **extra)
    wait = getattr(exc, "wait", None) if isinstance(exc, exceptions.Throttled) else None  # the stubs lack it
    if wait is not None:
        body["retry_after"] = max(1, int(wait + 0.999))  # as DRF's Retry-After header
    return body


def too_big_body(error: Exception) -> tuple[int, dict[str, Any]]:
    """The status and body for a request Django refused for its size (``SuspiciousOperation``s)."""
    if isinstance(error, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        message = f"the body is larger than {limit} bytes (DATA_UPLOAD_MAX_MEMORY_SIZE)"
        return 413, error_body("payload_too_large", message, limit=limit)
    if isinstance(error, TooManyFieldsSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        return 400, error_body("too_many_fields", f"the form has more than {limit} fields", limit=limit)
    if isinstance(error, TooManyFilesSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FILES
        return 400, error_body("too_many_files", f"the form has more than {limit} files", limit=limit)
    # Any other SuspiciousOperation (a disallowed Host…): its text is for the log, not the caller.
    return 400, error_body("bad_request", "the request was refused")


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's ``EXCEPTION_HANDLER``: outages answer 503 (``synchronise.outages``), a body Django
    refuses for its size 413, every other API exception DRF knows in the one shape."""
    request = context.get("request")
    if _is_legacy(request):
        return outages.exception_handler(exc, context)
    if isinstance(exc, SuspiciousOperation) and outages.outage_of(exc) is None:
        status, body = too_big_body(exc)
        return Response(body, status=status)
    response = outages.exception_handler(exc, context)
    if response is not None:
        response.data = shaped(response.data, response.status_code, exc)
    return response


class ApiErrorMiddleware(MiddlewareMixin):
    """Puts an error a DRF view answered itself (``Response({"definition": …}, status=400)``) in the
    one shape; what the exception handler shaped passes unchanged."""

    sync_capable = True
    async_capable = True

    def process_template_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        data = getattr(response, "data", None)
        if response.status_code >= 400 and isinstance(response, Response) and is_api_request(request):
            response.data = shaped(data, response.status_code)
        return response


# --- handler400, handler403, handler404, handler500 ------------------------------------------


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not is_api_request(request):
        return defaults.bad_request(request, exception)
    status, body = too_big_body(exception)
    return JsonResponse(body, status=status)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not is_api_request(request):
        return defaults.permission_denied(request, exception)
    return error_response(403, "forbidden", str(exception) or "you may not do this")


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not is_api_request(request):
        return defaults.page_not_found(request, exception)
    # Django's Resolver404 carries the patterns it tried: not for callers' eyes.
    return error_response(404, "not_found", f"no API route or object at {request.path}")


def server_error(request: HttpRequest) -> HttpResponse:
    if not is_api_request(request):
        return defaults.server_error(request)
    return error_response(500, "server_error", "the server failed to answer; the error is logged")
