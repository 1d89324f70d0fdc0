"""The editor's "Send test request": an ``http`` spec that is not saved yet, sent once with test
inputs through the path every run takes (validation, input coercion, the project's credentials
substituted on the host, OAuth2 refresh, the SSRF guard, masking), answered with what came back.

Nothing is recorded as an execution (it is a draft being written, not a run), but it is a request
made on the project's behalf, so it counts against the owner's plan like a run from the editor.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import Permission, Project, User
from accounts.services import require_permission, usage_consume
from components import errors
from components.errors import RunError
from components.types import carries_secrets, check_outputs, coerce_inputs, validate_interface

MAX_SHOWN_BODY = 200_000  # characters of the answer's text the page shows


def http_trial_send(
    *,
    project: Project,
    actor: User,
    spec: Any,
    inputs: Any,
    outputs: Any,
    values: dict[str, Any],
) -> dict[str, Any]:
    """Send ``spec`` once with ``values`` (for the declared ``inputs``), as an editor of ``project``.

    Returns ``{ok, status, headers, body, truncated, outputs, error, logs, duration_ms}``: ``ok``
    when the answer was mapped to outputs that fit their declared types; ``error`` is the run's
    ``{code, message, …}`` otherwise. Everything is masked. Raises ``ValidationError`` (field →
    messages) for a spec or interface that would not save, ``RunError`` 101/102 for the test inputs
    and 108 when the plan's quota is used up (nothing sent), ``PermissionDenied`` unless ``actor``
    may edit the project.
    """
    from components.code_runner import response_bytes_for
    from components.credentials import credential_values
    from components.http_component import run_http_component, validate_http_spec
    from components.oauth2.runtime import send_http

    require_permission(project=project, actor=actor, needed=Permission.EDIT)
    declared_inputs = validate_interface(inputs, field="inputs")
    declared_outputs = validate_interface(outputs, field="outputs")
    try:
        clean = validate_http_spec(spec, inputs=declared_inputs, outputs=declared_outputs)
    except ValidationError as error:
        raise ValidationError({"http": error.messages}) from None
    coerced = coerce_inputs(declared_inputs, values)
    with transaction.atomic():
        usage = usage_consume(project=project)
        if not usage.allowed:
            message = "the monthly request quota of this project's plan is used up"
            raise RunError(errors.QUOTA_EXCEEDED, message, quota=usage.quota, used=usage.used)
    secrets = credential_values(project=project)
    secret_inputs = [item["name"] for item in declared_inputs if carries_secrets(item)]
    logs: list[str] = []
    started = time.monotonic()

    def send() -> Any:
        return run_http_component(
            clean,
            coerced,
            secrets,
            idempotency_key=f"test-{uuid.uuid4().hex}",
            max_bytes=response_bytes_for(project),
            secret_inputs=secret_inputs,
            keep_response=True,
        )

    try:
        result = send_http(
            secrets,
            project_id=project.pk,
            spec=clean,
            secret_values=[coerced.get(name) for name in secret_inputs],
            send=send,
            logs=logs,
        )
    except RunError as refused:  # an OAuth2 credential to reconnect
        return _answer(None, refused.as_dict(), logs, started, None)
    logs.extend(result.request_log)
    problem = result.error
    mapped = None
    if problem is None:
        try:
            mapped = check_outputs(declared_outputs, result.outputs)
        except RunError as wrong:  # the mapping found nothing, or not of the declared type
            problem = wrong.as_dict()
            mapped = result.outputs
    return _answer(mapped, problem, logs, started, result.response)


def _answer(
    outputs: dict[str, Any] | None,
    error: dict[str, Any] | None,
    logs: list[str],
    started: float,
    response: dict[str, Any] | None,
) -> dict[str, Any]:
    text = (response or {}).get("text")
    return {
        "ok": error is None,
        "status": (response or {}).get("status"),
        "headers": (response or {}).get("headers", {}),
        "body": None if text is None else text[:MAX_SHOWN_BODY],
        "truncated": text is not None and len(text) > MAX_SHOWN_BODY,
        "outputs": outputs or {},
        "error": error,
        "logs": logs,
        "duration_ms": round((time.monotonic() - started) * 1000, 1),
    }
