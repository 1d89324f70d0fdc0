"""Turns a published change into ``cloud.data_update`` messages (installed as the events sink).

Runs after commit in whatever process made the change — web, worker or admin — and goes
through the channel layer, so sockets on every server hear it.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import json
import logging
import os
import threading
import time
from collections.abc import Coroutine, Mapping
from typing import Any

from channels.layers import get_channel_layer
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from realtime.hub import HUBS_GROUP
from realtime.models import RealtimeSubscription
from realtime.subscriptions import subscription_key

logger = logging.getLogger(__name__)


def build_params(wiring: RealtimeSubscription, filters: Mapping[str, Any]) -> dict[str, Any] | None:
    """The subscription's parameters for this change; ``None`` (and an error logged) if a filter is missing."""
    params: dict[str, Any] = {}
    for name, spec in wiring.params.items():
        if "value" in spec:
            params[name] = spec["value"]
        elif spec["filter"] in filters:
            params[name] = filters[spec["filter"]]
        else:
            logger.error(
                "realtime wiring %s: room %r published without filter %r for parameter %r",
                wiring.pk, wiring.room, spec["filter"], name,
            )  # fmt: skip
            return None
    return params


WIRING_CACHE_SECONDS = 2.0
_wiring: dict[str, tuple[float, list[RealtimeSubscription]]] = {}


def wiring_of(room: str) -> list[RealtimeSubscription]:
    """The enabled wiring of a room. Every change publishes, so it is kept for a couple of seconds
    per process; a change to the wiring clears it here at once, elsewhere within that time."""
    now = time.monotonic()
    cached = _wiring.get(room)
    if cached is None or now - cached[0] > WIRING_CACHE_SECONDS:
        cached = _wiring[room] = (now, list(RealtimeSubscription.objects.filter(room=room, enabled=True)))
    return cached[1]


@receiver(post_save, sender=RealtimeSubscription)
@receiver(post_delete, sender=RealtimeSubscription)
def _forget_wiring(**_: Any) -> None:
    _wiring.clear()


def updates_for(room: str, filters: Mapping[str, Any]) -> list[str]:
    """The subscription keys that a change to ``room`` with ``filters`` refreshes."""
    keys = []
    for wiring in wiring_of(room):
        params = build_params(wiring, filters)
        if params is not None:
            keys.append(subscription_key(wiring.function, params))
    return keys


def deliver(room: str, filters: Mapping[str, Any], recipients: list[int] | None) -> None:
    """One message per server process (each one's hub fans out to its own sockets), coalesced:
    the same refresh asked for again within ``COALESCE_SECONDS`` is sent once, at the end of that
    window (a workflow announces every step, a few milliseconds apart)."""
    layer = get_channel_layer()
    keys = updates_for(room, filters)
    if layer is None or not keys:
        return
    message = {"type": "rt.update", "keys": keys, "recipients": recipients}
    signature = json.dumps([keys, recipients])
    now = time.monotonic()
    with _coalesce_lock:  # decided here, so a coalesced refresh does not even wake the loop
        if signature in _trailing:
            return  # already due at the end of the window
        last = _sent_at.get(signature)
        wait = 0.0 if last is None else COALESCE_SECONDS - (now - last)
        if wait > 0:
            _trailing[signature] = message
        else:
            _sent_at[signature] = now
            if len(_sent_at) > 10_000:
                for old in [key for key, at in _sent_at.items() if now - at > COALESCE_SECONDS]:
                    del _sent_at[old]
    if wait > 0:
        _send(_send_trailing(layer, signature, wait))
    else:
        _send(layer.group_send(HUBS_GROUP, message))


COALESCE_SECONDS = 0.1
_coalesce_lock = threading.Lock()
_sent_at: dict[str, float] = {}  # when each refresh was last sent
_trailing: dict[str, dict[str, Any]] = {}  # refreshes waiting for the end of their window


def _forget_after_fork() -> None:
    # The parent's loop holds the trailing sends; a forked child (a Celery pool process) starts clean.
    global _coalesce_lock
    _coalesce_lock = threading.Lock()
    _sent_at.clear()
    _trailing.clear()


os.register_at_fork(after_in_child=_forget_after_fork)


async def _send_trailing(layer: Any, signature: str, delay: float) -> None:
    """A refresh says "look again", so one sent after the last change covers every change before it."""
    await asyncio.sleep(delay)
    with _coalesce_lock:
        message = _trailing.pop(signature, None)
        _sent_at[signature] = time.monotonic()
    if message is not None:
        await layer.group_send(HUBS_GROUP, message)


_loop: tuple[int, asyncio.AbstractEventLoop] | None = None
_loop_lock = threading.Lock()


def _publisher_loop() -> asyncio.AbstractEventLoop:
    """This process's publishing event loop, on a thread of its own. ``async_to_sync`` from a plain
    sync thread (a Celery worker, a management command) makes a new loop per call, and the channel
    layer a new Redis connection per loop: milliseconds per message. One long-lived loop keeps its
    connections. Recreated after a fork."""
    global _loop
    with _loop_lock:
        if _loop is None or _loop[0] != os.getpid():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="realtime-publisher", daemon=True).start()
            _loop = (os.getpid(), loop)
        return _loop[1]


def _send(message: Coroutine[Any, Any, None]) -> None:
    """Hand the message to the publishing loop and return: the change is committed, and its
    notification must not slow the request or the workflow step that made it."""
    future = asyncio.run_coroutine_threadsafe(message, _publisher_loop())
    _pending.add(future)
    future.add_done_callback(_done)


_pending: set[concurrent.futures.Future[None]] = set()


def _done(future: concurrent.futures.Future[None]) -> None:
    _pending.discard(future)
    if not future.cancelled() and future.exception() is not None:
        logger.error("publishing an update failed", exc_info=future.exception())


@atexit.register
def _flush() -> None:
    """A process that ends (a management command) still sends what it published."""
    with _coalesce_lock:
        due_later = list(_trailing.values())
        _trailing.clear()
    layer = get_channel_layer()
    for message in due_later:  # due at the end of their window: send them now
        _send(layer.group_send(HUBS_GROUP, message))
    concurrent.futures.wait(list(_pending), timeout=2)
