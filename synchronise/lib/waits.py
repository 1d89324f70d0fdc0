"""Wake a waiting thread, in any process, when what it waits for may have happened.

A synchronous API call that waits for a run to finish calls ``wait_for("execution-7", timeout,
until=finished)``; the worker that finishes the run calls ``notify("execution-7")`` once the change
is committed. The wake-up travels over Redis pub/sub, on the Redis the platform already uses
(``REDIS_URL``, else the embedded server's unix socket), through one connection pool per process.

The database stays the source of truth. A notification only means "look again": ``until`` decides.
The waiter subscribes *before* its first look, so a change committed in between is not missed, and
it looks again at least every ``FALLBACK_POLL_SECONDS``, so a lost message (Redis restarted, a
publish that failed) costs latency, never correctness. Keys are free-form strings; the convention
is ``<kind>-<id>`` (``execution-7``, ``workflow-execution-3``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

import redis
import redis.asyncio
from django.conf import settings
from django.db import connections

logger = logging.getLogger(__name__)

FALLBACK_POLL_SECONDS = 0.5
SUBSCRIBE_TIMEOUT_SECONDS = 2.0  # waiting longer for Redis to confirm: fall back to polling

_pools: dict[tuple[int, str], redis.ConnectionPool] = {}
_pools_lock = threading.Lock()


def redis_url() -> str:
    """The Redis of this installation: ``REDIS_URL``, or the embedded server's unix socket."""
    return str(settings.REDIS_URL or f"unix://{settings.EMBEDDED_REDIS_SOCKET}")


def _channel(key: str) -> str:
    # Pub/sub channels are global to a Redis server (not per database): the prefix keeps
    # installations (and concurrent test runs) that share a server apart.
    config = cast("dict[str, Any]", settings.CHANNEL_LAYERS["default"].get("CONFIG", {}))
    prefix = config.get("prefix", "synchronise")
    return f"{prefix}:wait:{key}"


def _client() -> redis.Redis:
    # One pool per process: connections do not survive a fork (Celery's prefork workers, uvicorn).
    url = redis_url()
    pool_key = (os.getpid(), url)
    with _pools_lock:
        pool = _pools.get(pool_key)
        if pool is None:
            pool = _pools[pool_key] = redis.ConnectionPool.from_url(
                url, max_connections=1000, socket_connect_timeout=2, socket_timeout=5
            )
    return redis.Redis(connection_pool=pool)


def key_for(kind: str, ident: object) -> str:
    """The key of one thing: ``key_for("execution", 7)`` is ``"execution-7"``."""
    return f"{kind}-{ident}"


MAX_MESSAGE_BYTES = 16 * 1024  # a longer message is sent as b"1": the waiter reads the source of truth
RECENT_KEYS = 1024  # notifications each event loop's listener remembers (``await_for(since=…)``): at most 16 MB


def notify(key: str, message: bytes = b"1") -> None:
    """Wake every ``wait_for(key, …)`` in every process. Call it after the change has committed
    (``transaction.on_commit``). ``message``: what the change was, for waiters that can use it
    (``await_for(settle=…)``); one over ``MAX_MESSAGE_BYTES`` is not sent. Never raises: a lost
    notification costs a waiter at most ``FALLBACK_POLL_SECONDS``."""
    if len(message) > MAX_MESSAGE_BYTES:
        message = b"1"
    try:
        _client().publish(_channel(key), message)
    except redis.RedisError as error:
        logger.warning("could not notify %s: %s", key, error)


def wait_for(
    key: str,
    timeout: float,
    *,
    until: Callable[[], bool] | None = None,
    poll: float | None = None,
) -> bool:
    """Wait at most ``timeout`` seconds for ``key`` to be notified; True if it was, else False.

    With ``until`` (a look at the source of truth, e.g. "is the row finished?"), return True as soon
    as ``until()`` is true: it is called once subscribed, after each notification, every ``poll``
    seconds, and a last time at the deadline. Without it, only a notification sent after the
    subscription wakes the waiter. If Redis cannot be reached, ``until`` is polled every ``poll``
    seconds (without ``until``: False at the deadline). ``poll`` defaults to ``FALLBACK_POLL_SECONDS``.

    The thread holds no database connection while it waits: this thread's connections go back (to
    the web's pool, or closed) before the wait and after each look, unless a transaction still
    uses one. A synchronous view waiting up to 120 s would otherwise keep one of the pool's few
    connections, and a handful of slow runs would starve every other request of the process.
    """
    poll = FALLBACK_POLL_SECONDS if poll is None else poll
    if until is not None:
        until = _released(until)
    release_database_connections()
    if timeout <= 0:
        return until is not None and until()
    deadline = time.monotonic() + timeout
    pubsub = _subscribe(key, deadline)
    try:
        if until is not None and until():
            return True
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return until is not None and until()
            step = min(remaining, poll) if until is not None else remaining
            notified = False
            if pubsub is not None:
                try:
                    notified = _next_message(pubsub, time.monotonic() + step)
                except redis.RedisError as error:
                    logger.warning("waiting for %s over Redis failed, polling instead: %s", key, error)
                    _close(pubsub)
                    pubsub = None
            else:
                time.sleep(step)
            if until is None:
                if notified:
                    return True
            elif until():
                return True
    finally:
        if pubsub is not None:
            _close(pubsub)


def release_database_connections() -> None:
    """Give back this thread's database connections (to the pool, or closed) — not one that a
    transaction still uses: closing it would roll that transaction back."""
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close()


def _released(look: Callable[[], bool]) -> Callable[[], bool]:
    """``look``, giving the connection it used back as soon as it has looked."""

    def looked() -> bool:
        try:
            return look()
        finally:
            release_database_connections()

    return looked


def _subscribe(key: str, deadline: float) -> redis.client.PubSub | None:
    """A subscription to ``key`` that Redis has confirmed (only then can no notification slip by),
    or None when Redis does not confirm it in time (the caller polls instead)."""
    pubsub: redis.client.PubSub | None = None
    give_up = time.monotonic() + SUBSCRIBE_TIMEOUT_SECONDS
    try:
        pubsub = _client().pubsub()
        pubsub.subscribe(_channel(key))
        while True:
            remaining = min(deadline, give_up) - time.monotonic()
            message = pubsub.get_message(timeout=max(remaining, 0))
            if message is not None and message["type"] == "subscribe":
                return pubsub
            if time.monotonic() >= deadline:
                _close(pubsub)  # the wait is over anyway: nothing to report
                return None
            if time.monotonic() >= give_up:
                raise redis.TimeoutError(f"no confirmation within {SUBSCRIBE_TIMEOUT_SECONDS:g} s")
    except redis.RedisError as error:
        logger.warning("cannot subscribe to %s, polling instead: %s", key, error)
        if pubsub is not None:
            _close(pubsub)
        return None


def _next_message(pubsub: redis.client.PubSub, until: float) -> bool:
    """True when a notification arrives before the monotonic time ``until``."""
    while True:
        remaining = until - time.monotonic()
        if remaining <= 0:
            return False
        message = pubsub.get_message(timeout=remaining)
        if message is not None and message["type"] == "message":
            return True


def _close(pubsub: redis.client.PubSub) -> None:
    with contextlib.suppress(redis.RedisError):
        pubsub.close()


# --- Waiting on an event loop --------------------------------------------------------------------


def mark() -> Mark:
    """Where this event loop's listener stands now; taken before starting what will be waited for
    and passed to ``await_for(since=…)``, it saves the first look at the source of truth. Starts no
    listener: a loop that has none yet (its first wait, or a loop made for one request) gets a mark
    that saves nothing."""
    listener = _listeners.get(asyncio.get_running_loop())
    if listener is None or listener.task.done() or not listener.subscribed:
        return Mark(None, -1, 0)
    return Mark(listener, listener.generation, listener.heard)


@dataclass(frozen=True)
class Mark:
    listener: _Listener | None
    generation: int  # of the subscription then (-1: none)
    heard: int  # notifications heard until then


async def await_for(
    key: str,
    timeout: float,
    *,
    until: Callable[[], Awaitable[bool]],
    poll: float | None = None,
    since: Mark | None = None,
    settle: Callable[[bytes], bool] | None = None,
) -> bool:
    """``wait_for`` for async code (an async view): True as soon as ``await until()`` is true,
    looked at once the wake-ups are flowing, after each notification of ``key``, every ``poll``
    seconds and at the deadline; False if it is still false after ``timeout`` seconds.

    ``settle``: told the message of a notification of ``key``, whether it settles the wait (the
    message says what changed: ``until`` is not asked). ``since``: a ``mark()`` taken before what is
    waited for began. If the listener has been subscribed without a break since then, it has heard
    every notification sent since, so the first look (``until``) is skipped when none came for
    ``key`` — the waiter then looks only once woken, every ``poll`` seconds and at the deadline.

    No connection per wait: each event loop has one listener, subscribed to every key of this
    installation, that wakes the waiters of a key in this process."""
    poll = FALLBACK_POLL_SECONDS if poll is None else poll
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    listener = _listener(loop)
    woken = asyncio.Event()
    listener.add(key, woken)
    try:
        await listener.ready(min(max(timeout, 0), SUBSCRIBE_TIMEOUT_SECONDS))
        unbroken = since is not None and since.listener is listener and since.generation == listener.generation
        look = not (unbroken and listener.subscribed)
        floor = since.heard if unbroken and since is not None else listener.heard  # older ones are not ours
        while True:
            heard, message = listener.recent.get(key, (0, None))
            if heard <= floor:
                message = None
            if message is not None and settle is not None and settle(message):
                return True
            if (look or message is not None) and await until():
                return True
            look = True
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), min(remaining, poll))
            woken.clear()
    finally:
        listener.discard(key, woken)


class _Listener:
    """One pattern subscription (``<prefix>:wait:*``) per event loop, read by a task that sets the
    events of the keys it hears. While it is (re)connecting, waiters poll: a lost wake-up costs
    latency, never correctness."""

    def __init__(self) -> None:
        self.waiters: dict[str, set[asyncio.Event]] = {}
        self.recent: OrderedDict[str, tuple[int, bytes]] = OrderedDict()  # the last ones heard, by key
        self.heard = 0  # notifications heard in all (numbers those in ``recent``)
        self.generation = 0  # one more at each confirmed subscription: a break since a mark shows
        self.subscribed = False
        self.settled = asyncio.Event()  # set once the first connection is confirmed or has failed
        self.prefix = _channel("")
        self.task = asyncio.get_running_loop().create_task(self.listen(), name="waits-listener")

    def add(self, key: str, event: asyncio.Event) -> None:
        self.waiters.setdefault(key, set()).add(event)

    def discard(self, key: str, event: asyncio.Event) -> None:
        events = self.waiters.get(key)
        if events is not None:
            events.discard(event)
            if not events:
                del self.waiters[key]

    async def ready(self, timeout: float) -> bool:
        """Whether the subscription is confirmed, waiting at most ``timeout`` seconds for it."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.settled.wait(), timeout)
        return self.subscribed

    async def listen(self) -> None:
        pattern = _glob_escape(self.prefix) + "*"
        pause = 0.5
        while True:
            client = redis.asyncio.Redis.from_url(redis_url(), socket_connect_timeout=2)
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.psubscribe(pattern)
                    async for message in pubsub.listen():
                        if message["type"] == "psubscribe":
                            self.generation += 1
                            self.subscribed, pause = True, 0.5
                            self.settled.set()
                        elif message["type"] == "pmessage":
                            key = message["channel"].decode()[len(self.prefix) :]
                            self.heard += 1
                            self.recent[key] = (self.heard, message["data"])
                            self.recent.move_to_end(key)
                            if len(self.recent) > RECENT_KEYS:
                                self.recent.popitem(last=False)
                            for event in self.waiters.get(key, ()):
                                event.set()
            except (redis.RedisError, OSError) as error:
                if pause == 0.5:  # once per outage
                    logger.warning("the wake-up listener lost Redis, waiters poll meanwhile: %s", error)
            finally:
                self.subscribed = False
                self.settled.set()
                for events in self.waiters.values():  # look again now: something may have been missed
                    for event in events:
                        event.set()
                with contextlib.suppress(redis.RedisError, OSError):
                    await client.aclose()
            await asyncio.sleep(pause)
            pause = min(pause * 2, 5.0)


_listeners: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Listener] = weakref.WeakKeyDictionary()


def _listener(loop: asyncio.AbstractEventLoop) -> _Listener:
    listener = _listeners.get(loop)
    if listener is None or listener.task.done():
        listener = _listeners[loop] = _Listener()
    return listener


def _glob_escape(text: str) -> str:
    return "".join(f"\\{char}" if char in "*?[]\\" else char for char in text)
