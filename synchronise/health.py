"""``/healthz``: is every service the platform depends on reachable?"""

from __future__ import annotations

import time
from collections.abc import Callable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from synchronise.outages import RETRY_AFTER_SECONDS, outage_body

TIMEOUT_SECONDS = 2


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_cache() -> None:
    token = str(time.monotonic_ns())
    cache.set("healthz", token, 10)
    if cache.get("healthz") != token:
        raise RuntimeError("cache did not return the value just written")


def check_channel_layer() -> None:
    import asyncio

    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")

    async def round_trip() -> None:
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "health.ping"})
        await asyncio.wait_for(layer.receive(channel), TIMEOUT_SECONDS)

    async_to_sync(round_trip)()


def check_broker() -> None:
    from synchronise.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=TIMEOUT_SECONDS)


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "cache": check_cache,
    "channel_layer": check_channel_layer,
    "broker": check_broker,
}


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 with every service ``ok``; 503 naming the services that are down (no secrets in errors)."""
    services: dict[str, dict[str, str]] = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - any failure means "down", reported by type
            services[name] = {"status": "down", "error": type(exc).__name__}
        else:
            services[name] = {"status": "ok"}
    down = [name for name, result in services.items() if result["status"] != "ok"]
    body = {"status": "down" if down else "ok", "down": down, "services": services}
    if not down:
        return JsonResponse(body)
    # An outage's answer (synchronise/outages.py), with the report of each service.
    response = JsonResponse({**outage_body(", ".join(down)), **body}, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
