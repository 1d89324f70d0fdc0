"""Calling a cloud function: one path for the WebSocket and HTTP faces.

Checks who may call, validates the parameters, runs the function and maps the domain's
exceptions to error replies. Synchronous: faces run it in a thread.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.http import Http404
from rest_framework.exceptions import ValidationError as DRFValidationError

from realtime.registry import Call, CloudError, CloudFunction, Result, lookup
from synchronise.errors import validation_body
from synchronise.lib.events import publish_change

logger = logging.getLogger(__name__)


def authorize(function: CloudFunction, call: Call) -> None:
    """Raises ``CloudError`` (401/403) unless the caller may call ``function``."""
    user = call.user
    if not user.is_authenticated:
        if call.api_key is not None and function.publishable:
            return
        if function.login_required:
            raise CloudError("sign in to call this function", status=401, code="not_authenticated")
        return
    if function.roles and not user.is_superuser and not user.groups.filter(name__in=function.roles).exists():
        raise CloudError(
            f"this function needs one of the roles: {', '.join(function.roles)}", status=403, code="forbidden"
        )


def validation_message(errors: Any) -> str:
    """``field: message; …``, as every validation error of the API says it (docs/errors.md)."""
    return str(validation_body(errors)["message"])


def run(name: str, params: Any, call: Call) -> Result:
    """Run the cloud function ``name``; returns its ``Result`` or raises ``CloudError``."""
    function = lookup(name)
    authorize(function, call)
    validated = function.validate(params if params is not None else {})
    try:
        result = function.handler(call, **validated)
    except CloudError:
        raise
    except (ObjectDoesNotExist, Http404):
        raise CloudError("not found", status=404, code="not_found") from None
    except PermissionDenied as exc:
        raise CloudError(str(exc) or "not allowed", status=403, code="forbidden") from None
    except ValidationError as exc:
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        raise CloudError(validation_message(errors), status=400, code="invalid", errors=errors) from None
    except DRFValidationError as exc:
        raise CloudError(validation_message(exc.detail), status=400, code="invalid", errors=exc.detail) from None
    if not isinstance(result, Result):
        result = Result(data=result)
    if result.filters is not None:
        # A function that changed data without a service publishing it describes the change itself.
        publish_change(name, filters=result.filters, recipients=result.recipients)
    return result
