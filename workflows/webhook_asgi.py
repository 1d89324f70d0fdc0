"""``/hooks/…`` served straight from the ASGI server, around Django's request stack.

A webhook is a machine-to-machine call authenticated by its token: it has no session, cookie,
CSRF token, user, message or static file, so none of the middleware in ``settings.MIDDLEWARE`` has
anything to do for it. In an async stack each of Django's ``MiddlewareMixin`` middlewares still
hops to a thread and back twice per request, and the handler spools the body to a temporary file
and sends the request signals through threads again; profiled under load (bench/workflows.py,
W4) that was about a third of the web process's CPU per webhook call. Here the path is matched
first; the body is read (at most one byte past the cap: a larger one is refused without
reading on) into the same ``ASGIRequest`` Django would build, the same view answers, and its
response is sent as is, with the security headers ``SecurityMiddleware`` would have added.

Every other path, and the WebSocket, goes on to Django and Channels unchanged; the route in
``workflows/hook_urls.py`` stays for servers that do not use this application (and the test client).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from io import BytesIO
from typing import Any

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse

from components.errors import EXECUTION_FAILED, INCORRECT_INPUT
from synchronise.outages import log_outage, outage_of, outage_response
from workflows.webhooks import MAX_BODY_BYTES, _error, webhook

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

HOOK_PATH = re.compile(r"/hooks/(?P<workflow_id>[0-9]+)/(?P<token>[^/]+)")


class WebhookFastPath:
    """An ASGI application: webhook calls to the webhook view, everything else to ``app``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            root = scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root) :]
            match = HOOK_PATH.fullmatch(path)
            if match is not None:
                await self.hook(scope, receive, send, int(match["workflow_id"]), match["token"])
                return
        await self.app(scope, receive, send)

    async def hook(self, scope: Scope, receive: Receive, send: Send, workflow_id: int, token: str) -> None:
        body = await _read_body(receive)
        if body is None:
            return  # the caller went away
        try:
            request = ASGIRequest(scope, BytesIO(body))
            response = await webhook(request, workflow_id=workflow_id, token=token)
        except SuspiciousOperation as refused:  # e.g. a form with too many fields: 400, as Django answers
            response = _error(400, INCORRECT_INPUT, f"bad request: {refused}")
        except Exception as error:
            # OutageMiddleware's rule, here where no middleware runs: PostgreSQL or Redis down is a
            # 503 with Retry-After (the throttle's cache read, the lookup, the start, the wait).
            service = outage_of(error)
            if service is not None:
                log_outage(service, error, f"webhook of workflow {workflow_id}")
                response = outage_response(service)
            else:
                logger.exception("webhook of workflow %s failed", workflow_id)
                response = _error(500, EXECUTION_FAILED, "internal error")
        await _send_response(response, send)


async def _read_body(receive: Receive) -> bytes | None:
    """The body, cut at ``MAX_BODY_BYTES + 1`` bytes (the view answers 413 for that, once it has
    checked the token and the method); None if the client disconnected."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        if size <= MAX_BODY_BYTES:
            chunks.append(chunk)
            size += len(chunk)
        if not message.get("more_body", False) or size > MAX_BODY_BYTES:
            break
    return b"".join(chunks)[: MAX_BODY_BYTES + 1]


def _send_headers(response: HttpResponse) -> list[tuple[bytes, bytes]]:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if settings.SECURE_REFERRER_POLICY:
        response.headers.setdefault("Referrer-Policy", str(settings.SECURE_REFERRER_POLICY))
    response.headers["Content-Length"] = str(len(response.content))
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in response.items()]


async def _send_response(response: HttpResponse, send: Send) -> None:
    await send({"type": "http.response.start", "status": response.status_code, "headers": _send_headers(response)})
    await send({"type": "http.response.body", "body": response.content})
