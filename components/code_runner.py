"""Code components: the sandbox runs the code; the host serves ``ctx.http`` with secrets substituted.

Plaintext credentials never enter the sandbox: code writes ``{{ secrets.NAME }}`` in headers or
bodies and the host substitutes it on the way out, through the SSRF-guarded client.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any

from accounts.models import Project
from components import errors
from components.errors import RunError

if TYPE_CHECKING:
    from components.invocation import Invocation

LOG_FLUSH_SECONDS = 0.2


def limits_for(project: Project, *, wall_seconds: float | None = None) -> Any:
    """The sandbox limits of the plan that pays for runs in ``project`` (its owner's); settings fill
    the rest. ``wall_seconds`` (a workflow step's timeout) may only tighten the plan's wall time."""
    from components.sandbox import Limits

    owner = project.owner()
    plan = owner.effective_plan() if owner else None
    chosen = {
        "wall_seconds": getattr(plan, "run_wall_seconds", None),
        "cpu_seconds": getattr(plan, "run_cpu_seconds", None),
        "memory_mb": getattr(plan, "run_memory_mb", None),
        "http_calls": getattr(plan, "run_http_calls", None),
    }
    limits = Limits(**{name: value for name, value in chosen.items() if value is not None})
    if wall_seconds is not None and wall_seconds < limits.wall_seconds:
        limits = dataclasses.replace(limits, wall_seconds=wall_seconds)
    return limits


def run_code(invocation: Invocation, code: str) -> Any:
    """The outputs of ``run(inputs, ctx)``; raises ``RunError`` with the sandbox's code on failure."""
    from components.credentials import mask, render_secrets
    from components.sandbox import HttpRequest, HttpResponse, Job, get_pool
    from synchronise.lib import outbound

    secrets = invocation.credentials()

    def serve_http(request: HttpRequest) -> HttpResponse:
        try:
            response = outbound.request(
                request.method,
                render_secrets(request.url, secrets),
                headers=render_secrets(request.headers, secrets),
                params=render_secrets(request.params, secrets),
                json=render_secrets(request.json, secrets),
                data=render_secrets(request.data, secrets),
            )
        except outbound.OutboundError as error:
            return HttpResponse(status=0, headers={}, body=b"", error=mask(str(error), secrets.values()))
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
        limits=limits_for(invocation.project, wall_seconds=invocation.wall_seconds),
        on_log=on_log,
        on_progress=lambda step, message: on_log(f"[progress {step}] {message}"),
        http=serve_http,
    )
    if not outcome.ok:
        error = outcome.error or {"code": errors.EXECUTION_FAILED, "message": "the sandbox failed"}
        raise RunError(**error)
    return outcome.outputs
