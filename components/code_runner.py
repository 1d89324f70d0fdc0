"""Code components: the sandbox runs the code; the host serves ``ctx.http`` with secrets substituted.

Plaintext credentials never enter the sandbox: code writes ``{{ secrets.NAME }}`` in headers or
bodies and the host substitutes it on the way out, through the SSRF-guarded client.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any

from django.conf import settings

from accounts.models import Plan, Project
from components import errors
from components.errors import RunError
from components.types import carries_secrets

if TYPE_CHECKING:
    from components.invocation import Invocation

LOG_FLUSH_SECONDS = 0.2
# An answer of ctx.http cut off by the plan's response size limit, left uncaught by the code.
RESPONSE_SIZE = 115


def _plan_of(project: Project) -> Plan | None:
    owner = project.owner()
    return owner.effective_plan() if owner else None


def limits_for(project: Project, *, wall_seconds: float | None = None) -> Any:
    """The sandbox limits of the plan that pays for runs in ``project`` (its owner's); settings fill
    the rest. ``wall_seconds`` (a workflow step's timeout) may only tighten the plan's wall time."""
    from components.sandbox import Limits

    plan = _plan_of(project)
    chosen = {
        "wall_seconds": getattr(plan, "run_wall_seconds", None),
        "cpu_seconds": getattr(plan, "run_cpu_seconds", None),
        "memory_mb": getattr(plan, "run_memory_mb", None),
        "http_calls": getattr(plan, "run_http_calls", None),
        "output_bytes": getattr(plan, "run_output_bytes", None),
        "log_bytes": getattr(plan, "run_log_bytes", None),
    }
    limits = Limits(**{name: value for name, value in chosen.items() if value is not None})
    if wall_seconds is not None and wall_seconds < limits.wall_seconds:
        limits = dataclasses.replace(limits, wall_seconds=wall_seconds)
    return limits


def response_bytes_for(project: Project) -> int:
    """The largest HTTP response body (decoded) that runs in ``project`` may receive: the plan's
    ``run_response_bytes``, else ``OUTBOUND_MAX_BYTES``. For ``ctx.http`` and ``http`` components."""
    limit: int | None = getattr(_plan_of(project), "run_response_bytes", None)
    return int(settings.OUTBOUND_MAX_BYTES) if limit is None else limit


def with_idempotency_key(headers: dict[str, str], key: str) -> dict[str, str]:
    """``headers`` of a ``ctx.http`` call with ``Idempotency-Key: <key>`` added, as ``http``
    components send it: the same value on every attempt of a workflow step (``wf<execution>-<step>-
    <item>``), ``execution-<id>`` for a direct run, so a receiver can apply a re-run call once. A
    header of the component's own (any case) wins; an empty one (``""`` or ``None``) sends none."""
    own = [name for name in headers if name.lower() == "idempotency-key"]
    if not own:
        return {**headers, "Idempotency-Key": key} if key else headers
    if any(not headers[name].strip() for name in own):
        return {name: value for name, value in headers.items() if name not in own}
    return headers


def run_code(invocation: Invocation, code: str) -> Any:
    """The outputs of ``run(inputs, ctx)``; raises ``RunError`` with the sandbox's code on failure."""
    from components.credentials import (
        CredentialError,
        host_guard,
        mask,
        refuse_credential_in_authority,
        render_secrets,
        secret_names,
    )
    from components.oauth2.runtime import UNAUTHORIZED, OAuth2Runtime
    from components.oauth2.services import OAuth2Reconnect
    from components.sandbox import Code, HttpRequest, HttpResponse, Job, get_pool
    from synchronise.lib import outbound

    secrets = invocation.credentials()
    limits = invocation.limits or limits_for(invocation.project, wall_seconds=invocation.wall_seconds)
    # ctx.http calls end with the run's wall time, so a run never outlasts it (a workflow step's lease).
    deadline = time.monotonic() + limits.wall_seconds
    response_bytes: list[int] = []  # looked up at the first ctx.http call: most runs make none
    # Only what the author names is substituted: a caller's data cannot pick a credential to send.
    named: set[str] = set()  # filled at the first ctx.http call too
    too_large: set[str] = set()  # the ConnectionError messages that reported the response size limit

    # OAuth2 credentials: fresh before a request carries one, refreshed once after a 401.
    oauth2 = OAuth2Runtime(secrets, project_id=invocation.project.pk) if getattr(secrets, "oauth2", None) else None
    reconnect: set[str] = set()  # the ConnectionError messages of OAuth2 credentials to reconnect (490)

    def render(request: HttpRequest, used: set[str]) -> dict[str, Any]:
        return {
            "url": render_secrets(request.url, secrets, used=used, named=named),
            "headers": render_secrets(request.headers, secrets, used=used, named=named),
            "params": render_secrets(request.params, secrets, used=used, named=named),
            "json": render_secrets(request.json, secrets, used=used, named=named),
            "data": render_secrets(request.data, secrets, used=used, named=named),
        }

    def failure(error: Exception) -> HttpResponse:
        message = mask(str(error), secrets.values())
        if isinstance(error, OAuth2Reconnect):
            reconnect.add(f"ConnectionError: {message}")
        return HttpResponse(status=0, headers={}, body=b"", error=message)

    walled = f"the run's wall-time limit of {limits.wall_seconds:g} s was reached during a ctx.http call"

    def send(request: HttpRequest, parts: dict[str, Any], used: set[str]) -> Any:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return HttpResponse(status=0, headers={}, body=b"", error=walled)
        # Cut by the run's wall time rather than OUTBOUND_TIMEOUT: a timeout then is the run's (109),
        # whether the sandbox's timer or this call's ends first.
        cut_by_wall_time = remaining < float(settings.OUTBOUND_TIMEOUT)
        try:
            return outbound.request(
                request.method,
                **parts,
                timeout=min(float(settings.OUTBOUND_TIMEOUT), remaining),
                max_bytes=response_bytes[0],
                # A credential with allowed hosts goes nowhere else, redirects included.
                check_host=host_guard(used, secrets),
            )
        except outbound.OutboundTooLarge as error:
            message = mask(f"response size limit of {response_bytes[0]} bytes exceeded: {error}", secrets.values())
            too_large.add(f"ConnectionError: {message}")
            return HttpResponse(status=0, headers={}, body=b"", error=message)
        except outbound.OutboundTimeout as error:
            message = walled if cut_by_wall_time else mask(str(error), secrets.values())
            return HttpResponse(status=0, headers={}, body=b"", error=message)
        except outbound.OutboundError as error:
            return HttpResponse(status=0, headers={}, body=b"", error=mask(str(error), secrets.values()))

    def serve_http(request: HttpRequest) -> HttpResponse:
        if not response_bytes:
            response_bytes.append(response_bytes_for(invocation.project))
            specs = invocation.implementation.inputs
            named.update(secret_names(code, [invocation.inputs.get(s["name"]) for s in specs if carries_secrets(s)]))
        used: set[str] = set()
        try:
            parts = render(request, used)
            refuse_credential_in_authority(str(parts["url"]), secrets)  # before any DNS lookup of that host
            if oauth2 is not None and oauth2.prepare(used):
                parts = render(request, set())
        except CredentialError as error:
            return failure(error)
        parts["headers"] = with_idempotency_key(parts["headers"], invocation.idempotency_key)
        response = send(request, parts, used)
        if oauth2 is not None and getattr(response, "status", None) == UNAUTHORIZED and oauth2.carried(used):
            try:
                again = oauth2.after_unauthorized(used)
            except CredentialError as error:
                return failure(error)
            if again:
                response = send(request, render(request, set()), used)
        if isinstance(response, HttpResponse):
            return response
        # A server that echoes the request would hand a substituted secret back to the code.
        body = mask(response.content.decode("utf-8", "replace"), secrets.values()).encode()
        return HttpResponse(status=response.status, headers=mask(dict(response.headers), secrets.values()), body=body)

    last_flush = [0.0]

    def on_log(line: str) -> None:
        invocation.logs.append(mask(line, secrets.values()) if secrets else line)
        # Live console: hand the lines over at most every LOG_FLUSH_SECONDS while running.
        now = time.monotonic()
        if invocation.on_logs is not None and now - last_flush[0] >= LOG_FLUSH_SECONDS:
            last_flush[0] = now
            invocation.on_logs(invocation.logs)

    outcome = get_pool().run(
        Job(code=code, inputs=invocation.inputs, idempotency_key=invocation.idempotency_key),
        limits=limits,
        on_log=on_log,
        on_progress=lambda step, message: on_log(f"[progress {step}] {message}"),
        http=serve_http,
    )
    if not outcome.ok:
        error = outcome.error or {"code": errors.EXECUTION_FAILED, "message": "the sandbox failed"}
        if error.get("code") == Code.EXCEPTION and error.get("message") in reconnect:
            # Left uncaught, a revoked OAuth2 credential fails the run with its own code: reconnect it.
            message = error["message"].removeprefix("ConnectionError: ")
            error = {**error, "code": errors.OAUTH2_RECONNECT, "message": message, "reason": "oauth2_reconnect"}
        elif error.get("code") == Code.EXCEPTION and error.get("message") == f"ConnectionError: {walled}":
            # Left uncaught, a call cut by the run's wall time times the run out, as the sandbox's timer would.
            error = {**error, "code": errors.WALL_TIME, "message": walled}
        elif error.get("code") == Code.EXCEPTION and error.get("message") in too_large:
            # Left uncaught, the cut-off answer is the plan's limit at work, not a bug in the code.
            message = error["message"].removeprefix("ConnectionError: ")
            error = {**error, "code": RESPONSE_SIZE, "message": message, "limit": response_bytes[0]}
        raise RunError(**error)
    return outcome.outputs
