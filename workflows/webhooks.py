"""The webhook face: ``/hooks/<workflow_id>/<token>`` starts an execution of the workflow.

The order of the checks is part of the contract (docs/workflows-triggers.md): an unknown
workflow, a wrong token and a disabled webhook get the same 404, before anything else is
looked at; then the method (405), the rate limit (429), the size (413) and the signature (401).
Only then is the body parsed and ``execution_start`` called, which counts the request against
the plan (429 with code 108 when over quota) and records the execution (trigger ``webhook``).
"""

from __future__ import annotations

import logging
from io import BytesIO
from typing import Any, cast

from channels.db import database_sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.http.multipartparser import MultiPartParser, MultiPartParserError
from django.views.decorators.csrf import csrf_exempt
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from components import credentials
from components.errors import NOT_ALLOWED, TOO_DEEP, UNKNOWN_ID, RunError, http_status
from components.http_component import sensitive_header
from synchronise.lib import jsonlimits, waits
from workflows import runs
from workflows.models import Status, Trigger, Webhook, WorkflowExecution
from workflows.triggers import signature_valid, webhook_authenticate

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = int(getattr(settings, "WEBHOOK_MAX_BODY_BYTES", 1024 * 1024))
IDEMPOTENCY_HEADER = "Idempotency-Key"


class WebhookRateThrottle(SimpleRateThrottle):
    """Calls per webhook, at the rate of an API key of the project owner's plan (counted in the
    cache like the API keys' throttle, ``accounts/throttling.py``)."""

    scope = "webhook"

    def __init__(self, webhook: Webhook) -> None:
        self.webhook = webhook
        self.owner = owner = webhook.workflow.project.owner()
        self.rate = owner.effective_plan().effective_rate_limit if owner else "1/min"
        self.num_requests, self.duration = self.parse_rate(self.rate)

    def get_rate(self) -> str | None:
        return None  # set from the plan in __init__

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.webhook.pk}

    def allow(self) -> bool:
        """Whether this call may go ahead (it is counted if so). The key is the webhook's, so
        DRF's request and view, which a plain Django view has not, are not needed."""
        return self.allow_request(cast("Request", None), cast("APIView", None))


def _error(status: int, code: int | str, message: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"code": code, "message": message, **extra}, status=status)


def _not_found() -> JsonResponse:
    return _error(404, UNKNOWN_ID, "unknown webhook")


def _read_body(request: HttpRequest) -> bytes | None:
    """The raw body, or ``None`` when it is larger than ``MAX_BODY_BYTES`` (read no further)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY_BYTES:
        return None
    body = request.read(MAX_BODY_BYTES + 1)
    return None if len(body) > MAX_BODY_BYTES else body


def _flat(query: QueryDict) -> dict[str, Any]:
    """One value per name, a list for a name given several times."""
    return {name: values[0] if len(values) == 1 else values for name, values in query.lists()}


def _parse_body(request: HttpRequest, body: bytes) -> Any:
    """JSON (any value), a form (an object), or text; ``None`` for an empty body.
    Raises ``ValueError`` for a JSON content type with a body that is not JSON."""
    if not body:
        return None
    content_type = request.content_type or ""
    if content_type == "application/json" or content_type.endswith("+json"):
        return jsonlimits.loads(body.decode(request.encoding or "utf-8"), where="the body")
    if content_type == "application/x-www-form-urlencoded":
        return _flat(QueryDict(body, encoding=request.encoding or "utf-8"))
    if content_type == "multipart/form-data":
        # The stream is read already (bounded); files are not inputs, only the form's fields.
        fields, _files = MultiPartParser(request.META, BytesIO(body), request.upload_handlers, request.encoding).parse()
        return _flat(fields)
    return body.decode(request.encoding or "utf-8", errors="replace")


def webhook_inputs(request: HttpRequest, body: Any) -> dict[str, Any]:
    """The execution's inputs: a JSON object body's fields, then ``body``, ``query`` and
    ``headers`` (lower-cased, without cookies and credentials), which win over same-named fields."""
    inputs: dict[str, Any] = dict(body) if isinstance(body, dict) else {}
    inputs["body"] = body
    inputs["query"] = _flat(request.GET)
    # Credentials a sender puts in headers are not inputs: they would be stored with the execution.
    inputs["headers"] = {name.lower(): value for name, value in request.headers.items() if not sensitive_header(name)}
    return inputs


def _answer(execution: WorkflowExecution, webhook: Webhook) -> JsonResponse:
    """200 with the outputs; the execution's error with a fitting status; 202 while it runs."""
    headers = {"X-Synchronise-Execution": str(execution.pk)}
    if not execution.is_finished or webhook.respond == Webhook.Respond.ACCEPTED:
        return JsonResponse({"execution_id": execution.pk, "status": execution.status}, status=202, headers=headers)
    if execution.status == Status.SUCCEEDED:
        return JsonResponse(execution.outputs, status=200, headers=headers, safe=False)
    error = dict(execution.error or {"code": NOT_ALLOWED, "message": execution.status})
    code = error.get("code")
    status = 409 if execution.status == Status.CANCELLED else http_status(code if isinstance(code, int) else 0)
    return JsonResponse(
        {**error, "execution_id": execution.pk, "status": execution.status}, status=status, headers=headers
    )


@csrf_exempt  # called by other servers, authenticated by the token (and the signature)
async def webhook(request: HttpRequest, workflow_id: int, token: str) -> HttpResponse:
    # Async so that a call waiting for its execution holds no thread: the checks and the start
    # run on a thread, which gives its database connection back before the wait, the wait on the
    # event loop (runs.execution_await), which hears the end of an execution started after the mark.
    mark = waits.mark()
    started = await database_sync_to_async(_start)(request, workflow_id, token)
    if isinstance(started, HttpResponse):
        return started
    execution, found = started
    if found.respond == Webhook.Respond.SYNC and not execution.is_finished:
        execution = await runs.execution_await(execution, timeout=found.timeout_seconds, since=mark)
    return _answer(execution, found)


def _start(request: HttpRequest, workflow_id: int, token: str) -> HttpResponse | tuple[WorkflowExecution, Webhook]:
    """The refusal to answer, or the started execution and its webhook."""
    found = webhook_authenticate(workflow_id=workflow_id, token=token)
    if found is None:
        return _not_found()
    if request.method not in found.methods:
        response = _error(405, NOT_ALLOWED, f"this webhook accepts {', '.join(found.methods)}")
        response["Allow"] = ", ".join(found.methods)
        return response
    throttle = WebhookRateThrottle(found)
    if not throttle.allow():
        wait = throttle.wait()
        response = _error(429, "rate_limited", f"too many calls to this webhook (limit {throttle.rate})")
        if wait is not None:
            response["Retry-After"] = str(max(1, int(wait + 0.999)))
        return response
    body = _read_body(request)
    if body is None:
        return _error(413, "payload_too_large", f"the body is larger than {MAX_BODY_BYTES} bytes", limit=MAX_BODY_BYTES)
    if found.signature_credential:
        refusal = _check_signature(request, found, body)
        if refusal is not None:
            return refusal
    try:
        parsed = _parse_body(request, body)
    except MultiPartParserError as invalid:
        return _error(400, 101, f"the form cannot be read: {invalid}")
    except jsonlimits.TooDeep as error:
        return _error(400, TOO_DEEP, str(error), limit=error.limit)
    except (ValueError, UnicodeDecodeError):
        return _error(400, 101, "the body is not valid JSON")
    key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
    try:
        execution = runs.execution_start(
            workflow=found.workflow,
            inputs=webhook_inputs(request, parsed),
            trigger=Trigger.WEBHOOK,
            idempotency_key=f"webhook:{key}" if key else "",
            owner=throttle.owner,
        )
    except RunError as error:
        return JsonResponse(error.as_dict(), status=error.http_status)
    return execution, found


def _check_signature(request: HttpRequest, found: Webhook, body: bytes) -> JsonResponse | None:
    """``None`` if the body is signed with the credential's key, else the 401 to answer."""
    try:
        secret = credentials.credential_values(project=found.workflow.project).get(found.signature_credential)
    except credentials.CredentialError:
        logger.exception("webhook of workflow %s: its signing credential cannot be read", found.workflow_id)
        secret = None
    if secret is None:
        # Deleted or unreadable: refuse rather than accept unsigned calls.
        logger.warning(
            "webhook of workflow %s: signing credential %r is missing", found.workflow_id, found.signature_credential
        )
        return _error(401, "bad_signature", "the signature cannot be verified")
    if not signature_valid(secret=secret, body=body, header_value=request.headers.get(found.signature_header)):
        return _error(401, "bad_signature", f"missing or invalid {found.signature_header} signature")
    return None
