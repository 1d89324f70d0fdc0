"""The HTTP form's endpoints (editors only, JSON in and out, session + CSRF like the page script's
other calls): "Import from cURL" and "Send test request". Errors are ``{code, message, …}``:
a non-member gets 404, a viewer 403, never an HTML page."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.http import require_POST

from accounts.models import Permission, Project
from accounts.views.access import signed_in
from components.errors import RunError
from components.http_component.curl import CurlError, parse_curl
from components.http_component.trial import http_trial_send
from components.marketplace.models import code_hidden
from components.models import Component, Kind
from components.views.pages import member_component

MAX_BODY = 200_000


def _json_errors(view: Callable[..., JsonResponse]) -> Callable[..., JsonResponse]:
    """Access problems answered as JSON, as the page script reads every answer of these endpoints."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        try:
            return view(request, *args, **kwargs)
        except (Http404, Project.DoesNotExist):
            return JsonResponse({"code": "not_found", "message": "No such component."}, status=404)
        except PermissionDenied as error:
            message = str(error) or "Only the project's editors may do this."
            return JsonResponse({"code": "permission_denied", "message": message}, status=403)

    return wrapper


def _editable_http(request: HttpRequest, pk: int) -> Component:
    component, _ = member_component(request, pk, Permission.EDIT)
    if component.kind != Kind.HTTP or code_hidden(component):
        raise Http404("No such HTTP component.")
    return component


def _body(request: HttpRequest) -> dict[str, Any]:
    if len(request.body) > MAX_BODY:
        raise ValueError(f"the request body is larger than {MAX_BODY} bytes")
    data = json.loads(request.body or b"{}")
    if not isinstance(data, dict):
        raise ValueError("a JSON object")
    return data


def _invalid(message: str, errors: dict[str, list[str]] | None = None, status: int = 400) -> JsonResponse:
    return JsonResponse({"code": "invalid", "message": message, "errors": errors or {}}, status=status)


@login_required
@require_POST
@_json_errors
def component_http_curl(request: HttpRequest, pk: int) -> JsonResponse:
    """``{"command": "curl …"}`` → ``{spec, credentials, notes, unknown}`` (nothing is saved or sent)."""
    component = _editable_http(request, pk)
    try:
        command = _body(request).get("command")
    except ValueError as error:
        return _invalid(f"the body must be {error}")
    if not isinstance(command, str) or not command.strip():
        return _invalid("paste a curl command", {"command": ["paste a curl command"]})
    names = list(component.project.credentials.values_list("name", flat=True))
    try:
        imported = parse_curl(command, credentials=names)
    except CurlError as error:
        return _invalid(str(error), {"command": [str(error)]})
    return JsonResponse(imported.as_dict())


@login_required
@require_POST
@_json_errors
def component_http_test(request: HttpRequest, pk: int) -> JsonResponse:
    """``{http, inputs, outputs, values}`` — the editor's current, unsaved state — sent once
    (``components.http_component.trial``); answers status, headers, body and mapped outputs."""
    component = _editable_http(request, pk)
    try:
        data = _body(request)
    except ValueError as error:
        return _invalid(f"the body must be {error}")
    values = data.get("values") or {}
    if not isinstance(values, dict):
        return _invalid("values: an object of test inputs", {"values": ["an object of test inputs"]})
    try:
        answer = http_trial_send(
            project=component.project,
            actor=signed_in(request),
            spec=data.get("http"),
            inputs=data.get("inputs", component.inputs),
            outputs=data.get("outputs", component.outputs),
            values=values,
        )
    except ValidationError as error:
        fields = error.message_dict if hasattr(error, "error_dict") else {"http": error.messages}
        lines = [f"{field}: {message}" for field, messages in fields.items() for message in messages]
        return _invalid("; ".join(lines[:5]) + (f"; and {len(lines) - 5} more" if len(lines) > 5 else ""), fields)
    except RunError as error:
        return JsonResponse(error.as_dict(), status=error.http_status)
    return JsonResponse(answer)
