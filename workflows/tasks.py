"""Celery tasks of workflows: thin, by id; the state machine is in ``workflows/engine.py``.

``run_step`` runs the step it was sent, then runs inline one of the steps that became ready (so a
chain of steps costs no broker hop) and sends the others to the broker, where idle workers take
them: independent branches run in parallel on different workers. A chain gives its worker up
when it has run inline for ``INLINE_SECONDS`` and other messages are waiting, so one long
workflow cannot starve the others.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import redis
from celery import current_app, shared_task

from components import runs as component_runs
from workflows import engine, storage

INLINE_SECONDS = 0.5


def _others_waiting() -> bool:
    """Whether messages wait in the default queue (one LLEN on the broker's Redis)."""
    return _queued_messages() > 0  # a broker that cannot say (0): keep the chain here


def _queued_messages() -> int:
    """How many messages wait in the default queue; 0 when the broker cannot say."""
    try:
        # The connection pool (a new connection costs ms); celery's stubs call its items producers.
        with current_app.pool.acquire(block=True) as connection:
            channel = getattr(connection, "default_channel", None)
            client = getattr(channel, "client", None)  # Redis transports only
            return int(client.llen(current_app.conf.task_default_queue)) if client is not None else 0
    except (OSError, redis.RedisError):
        return 0


def _continue(following: engine.Next) -> None:
    """Run the step run the engine leased to this worker, inline, and the ones after it; send the
    others to the broker for idle workers."""
    started = time.monotonic()
    credentials: dict[int, Any] = {}  # read once for the whole chain (engine.run_claimed)
    while True:
        for step_run_id in following.others:
            run_step.delay(step_run_id)
        if following.claimed is None:
            return
        if time.monotonic() - started > INLINE_SECONDS and _others_waiting():
            if engine.release(following.claimed):
                run_step.delay(following.claimed.pk)
            return
        following = engine.run_claimed(following.claimed, credentials=credentials)


@shared_task(name="workflows.advance", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def advance_execution(execution_id: int) -> None:
    _continue(engine.advance(execution_id, claim=True))


@shared_task(name="workflows.run_step", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_step(step_run_id: int) -> None:
    _continue(engine.run_step(step_run_id))


TICK_LOCK = "workflows:tick-lock"
# Held while a tick runs, so ticks do not overlap; a tick killed with its worker frees it after this.
# Two ticks overlapping would still be correct (every repair is a conditional update), only wasted.
TICK_LOCK_SECONDS = 5


# On its own queue ("repairs", settings.CELERY_TASK_ROUTES), which every worker consumes next to
# the steps: a backlog of steps cannot delay it, and it has no expiry that would drop it. Not
# acknowledged late: a tick lost with its worker is replaced by the next one a second later.
@shared_task(name="workflows.tick", ignore_result=True, acks_late=False)
def tick() -> None:
    """Periodic repairs (beat, every second): reclaim lost steps, due retries, timeouts, admissions,
    and fail the component executions whose worker was lost (their lease expired)."""
    with _tick_lock() as acquired:
        if not acquired:  # another worker is ticking, or ticked less than half a period ago
            return
        for step_run_id in engine.tick(messages_queued=_queued_messages()).dispatch:
            run_step.delay(step_run_id)
        component_runs.run_repair()


@contextmanager
def _tick_lock() -> Iterator[bool]:
    """At most one tick at a time. The lock is kept for half a tick period after a tick ends, so
    the ticks beat sent while every worker was busy collapse into one run instead of repeating it."""
    from django.conf import settings

    period = cast("float", settings.CELERY_BEAT_SCHEDULE["workflows.tick"]["schedule"])
    hold_ms = max(int(period * 500), 1)
    acquired = _broker_set(nx=True, ex=TICK_LOCK_SECONDS)
    try:
        yield acquired is not False
    finally:
        if acquired:
            _broker_set(xx=True, px=hold_ms)


def _broker_set(**options: Any) -> bool | None:
    """SET the tick lock on the broker's Redis (with the installation's key prefix); ``None`` when
    the broker cannot say (not Redis, or unreachable): the tick runs anyway."""
    try:
        with current_app.pool.acquire(block=True) as connection:
            client = getattr(getattr(connection, "default_channel", None), "client", None)
            if client is None:
                return None
            return bool(client.set(TICK_LOCK, engine.worker_id(), **options))
    except (OSError, redis.RedisError):
        return None


@shared_task(name="workflows.prune", ignore_result=True)
def prune() -> None:
    storage.prune()


@shared_task(name="workflows.scheduled_run", ignore_result=True)
def scheduled_run(workflow_id: int) -> None:
    """A schedule's slot (sent by beat, see ``workflows/triggers.py``): start the workflow's run."""
    from workflows.triggers import schedule_fire

    schedule_fire(workflow_id=workflow_id)
