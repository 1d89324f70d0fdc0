"""A dependency that is down (PostgreSQL, Redis) answers 503 with ``Retry-After``, never 500.

Which errors mean "a service we depend on is unavailable", and the one answer they get, in one
place: ``OutageMiddleware`` for every Django view (pages, API through DRF's exception handler
below, the legacy run routes), the webhook fast path (``workflows/webhook_asgi.py``) for the
webhook it serves around the middleware, ``/healthz`` for its own report. Nothing reconnects by
hand: the database pool and the Redis clients open new connections on their next use, so the
first request after the service is back is answered normally (docs/failure-model.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import redis.exceptions
from django.db import InterfaceError as DatabaseInterfaceError
from django.db import OperationalError as DatabaseOperationalError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.deprecation import MiddlewareMixin
from django_redis.exceptions import ConnectionInterrupted
from kombu.exceptions import OperationalError as BrokerOperationalError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)

CODE = "service_unavailable"  # the JSON ``code`` of every such answer (docs/failure-model.md)
# Long enough for a restart of Redis or a PostgreSQL failover, short enough that callers come back soon.
RETRY_AFTER_SECONDS = 5

_SERVICES: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str], ...] = (
    ((DatabaseOperationalError, DatabaseInterfaceError), "database"),
    ((redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, ConnectionInterrupted), "redis"),
    (redis.exceptions.BusyLoadingError, "redis"),  # a restarted Redis loading its data set
    (BrokerOperationalError, "redis"),  # Celery could not send a task (the broker is Redis)
)


class ServiceUnavailable(Exception):
    """Raised where an outage was met and handled (what was begun is undone): answered as 503."""

    def __init__(self, service: str) -> None:
        super().__init__(f"{service} is unavailable")
        self.service = service


def outage_of(error: BaseException | None) -> str | None:
    """``"database"`` or ``"redis"`` when ``error`` (or an error it was raised from) means that
    service cannot be reached; ``None`` for any other error."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, ServiceUnavailable):
            return error.service
        for kinds, service in _SERVICES:
            if isinstance(error, kinds):
                return service
        # What it was raised from (django-redis and Django's database wrappers say so), not an error
        # met while handling another: a bug in an outage's handling must stay a visible 500.
        error = error.__cause__
    return None


def outage_body(service: str) -> dict[str, Any]:
    return {
        "code": CODE,
        "message": f"a service the platform depends on ({service}) is unavailable; retry later",
        "service": service,
        "retry_after": RETRY_AFTER_SECONDS,
    }


def outage_response(service: str) -> JsonResponse:
    """The 503 every endpoint answers during an outage (JSON, pages included: it is short-lived)."""
    response = JsonResponse(outage_body(service), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    response._has_been_logged = True  # type: ignore[attr-defined]  # log_outage's line says it; not Django's error too
    return response


def log_outage(service: str, error: BaseException, where: str) -> None:
    # One line, no traceback: during an outage every request meets it, and the error's text is
    # the client library's (no connection string; django-redis and psycopg leave passwords out).
    logger.warning("%s unavailable (%s: %s) at %s: answered 503", service, type(error).__name__, error, where)


class OutageMiddleware(MiddlewareMixin):
    """A view (or its template) that meets an outage answers 503 instead of Django's 500."""

    sync_capable = True
    async_capable = True

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        service = outage_of(exception)
        if service is None:
            return None
        log_outage(service, exception, request.path)
        return outage_response(service)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, with outages answered 503 (DRF would re-raise them as a 500)."""
    service = outage_of(exc)
    if service is None:
        return drf_exception_handler(exc, context)
    request = context.get("request")
    log_outage(service, exc, getattr(request, "path", "API"))
    response = Response(outage_body(service), status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    response._has_been_logged = True  # type: ignore[attr-defined]  # as outage_response
    return response


def send_or_take_back(send: Callable[[], object], take_back: Callable[[], None]) -> None:
    """``send()`` a committed run's first task to the broker; if the broker is down, undo the run
    (``take_back()``, in its own transaction: the row and its count) and raise ``ServiceUnavailable``.

    For the runs a caller started (API, webhook, run routes): the caller is answered 503 and may
    send the same call again, which then neither runs twice nor counts twice. Called from
    ``transaction.on_commit``, so the exception reaches the view that started the run."""
    try:
        send()
    except Exception as error:
        service = outage_of(error)
        if service is None:
            raise
        with transaction.atomic():
            take_back()
        raise ServiceUnavailable(service) from error
