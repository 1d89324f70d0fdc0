"""One call of a component's implementation, whoever asked for it: a component Execution or a
workflow step. It validates nothing about who may run it; callers have done that.

``invoke`` runs the implementation (code in the sandbox, an ``http`` request through the SSRF
guard), checks the outputs against the declared schema, masks the project's credentials in
outputs and logs, and returns the outputs or raises ``RunError``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from accounts.models import Project
from components import errors
from components.errors import RunError
from components.models import Component, ComponentVersion, Kind
from components.types import carries_secrets, check_outputs
from synchronise.lib import jsonlimits

MAX_LOG_LINES = 1000


@dataclass
class Invocation:
    project: Project
    implementation: Component | ComponentVersion
    inputs: dict[str, Any]  # already coerced
    idempotency_key: str
    logs: list[str] = field(default_factory=list)
    wall_seconds: float | None = None  # a tighter wall-time limit than the plan's (a step's timeout)
    limits: Any = None  # the sandbox Limits, when the caller has them already (else from the plan)
    on_logs: Callable[[list[str]], None] | None = None  # live console: all lines so far, throttled
    secrets: dict[str, str] | None = None  # the project's credentials, loaded once on first use

    def credentials(self) -> dict[str, str]:
        if self.secrets is None:
            from components.credentials import credential_values

            self.secrets = credential_values(project=self.project)
        return self.secrets

    def masked(self, value: Any) -> Any:
        from components.credentials import mask

        secrets = self.credentials()
        return mask(value, secrets.values()) if secrets else value


def invoke(invocation: Invocation) -> dict[str, Any]:
    """The checked, masked outputs; raises ``RunError`` (its dict masked too) when the run fails."""
    implementation = invocation.implementation
    try:
        outputs = _run(invocation)
        _require_storable_outputs(outputs)
        return invocation.masked(check_outputs(implementation.outputs, outputs))
    except RunError as error:
        details = error.as_dict()
        if "traceback" in details and _code_hidden(implementation):
            # A traceback quotes the source lines: a closed-source fork's code stays unread.
            details["traceback"] = ""
        raise RunError(**invocation.masked(details)) from None
    finally:
        del invocation.logs[:-MAX_LOG_LINES]


def _require_storable_outputs(outputs: Any) -> None:
    """Raises ``RunError`` 125 for outputs nested deeper than ``jsonlimits.MAX_DEPTH`` (checked without
    recursion, before masking and storing walk them), 106 for text UTF-8 cannot encode."""
    if jsonlimits.too_deep(outputs):
        limit = jsonlimits.MAX_DEPTH
        raise RunError(errors.TOO_DEEP, f"the outputs are nested deeper than {limit} levels", limit=limit)
    where = jsonlimits.unencodable(outputs)
    if where is not None:
        message = f"output {jsonlimits.scrub(where[:200])} is not valid Unicode text (a lone surrogate or NUL)"
        raise RunError(errors.INCORRECT_OUTPUT, message)


def _code_hidden(implementation: Component | ComponentVersion) -> bool:
    from components.marketplace.models import code_hidden

    return code_hidden(implementation if isinstance(implementation, Component) else implementation.component)


def http_timeout(wall_seconds: float | None) -> float:
    """The whole-request timeout of an ``http`` component: ``OUTBOUND_TIMEOUT``, tightened by a
    workflow step's timeout."""
    default = float(settings.OUTBOUND_TIMEOUT)
    return min(wall_seconds, default) if wall_seconds is not None else default


def _run(invocation: Invocation) -> Any:
    implementation = invocation.implementation
    if implementation.kind == Kind.CODE:
        from components.code_runner import run_code

        return run_code(invocation, implementation.code)
    if implementation.kind == Kind.HTTP:
        from components.code_runner import response_bytes_for
        from components.http_component import run_http_component
        from components.oauth2.runtime import send_http

        timeout = http_timeout(invocation.wall_seconds)
        secret_inputs = [spec["name"] for spec in implementation.inputs if carries_secrets(spec)]

        def send() -> Any:
            return run_http_component(
                implementation.http,
                invocation.inputs,
                invocation.credentials(),
                idempotency_key=invocation.idempotency_key,
                timeout=timeout,
                max_bytes=response_bytes_for(invocation.project),
                secret_inputs=secret_inputs,
            )

        # OAuth2 credentials it carries: refreshed when due, and once more after a 401.
        result = send_http(
            invocation.credentials(),
            project_id=invocation.project.pk,
            spec=implementation.http,
            secret_values=[invocation.inputs.get(name) for name in secret_inputs],
            send=send,
            logs=invocation.logs,
        )
        invocation.logs.extend(result.request_log)
        if result.error:
            if result.error.get("reason") == "timeout" and timeout == invocation.wall_seconds:
                # The step's own timeout cut the request: the step timed out, as a code step would.
                raise RunError(errors.WALL_TIME, f"wall-time limit of {timeout:g} s exceeded", reason="timeout")
            raise RunError(**result.error)
        return result.outputs
    raise RunError(errors.EXECUTION_FAILED, f"no built-in connector named {implementation.builtin!r}")
