"""The recovery bound holds at any queue depth: a worker killed with SIGKILL while hundreds of
steps wait in the queue has its steps reclaimed within lease + one tick, not after the backlog
has drained (docs/failure-model.md). The repair loop runs from its own queue, which every worker
started without ``-Q`` consumes, as production starts them."""

from __future__ import annotations

import os
import signal
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from synchronise.celery import app
from synchronise.lib import waits
from tests import servers
from tests.factories import make_component, make_workflow
from workflows import engine, runs, tasks
from workflows.definition import WORKER_LOST
from workflows.models import StepRun, StepStatus

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]

SLOW = """
import time

def run(inputs, ctx):
    time.sleep(0.5)
    return {}
"""
STEPS = 200  # a workflow's most; two executions of it put ~400 steps in the queue
TIMEOUT = 3  # the step's timeout: its lease is TIMEOUT + GRACE
GRACE = 2
TICK = 1.0
RESEND = 3  # a queued step nobody took for this long is sent again (its message may be lost)
ENV: dict[str, Any] = {
    "WORKFLOW_LEASE_GRACE_SECONDS": str(GRACE),
    "WORKFLOW_TICK_SECONDS": str(TICK),
    "WORKFLOW_RESEND_SECONDS": str(RESEND),
}
MARGIN = 25  # a loaded 2-core machine; the backlog below takes minutes to drain on one worker


def group_pids(pgid: int) -> set[int]:
    """The processes of a process group (a Celery worker: main process and pool children)."""
    pids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # after the command: state, ppid, pgrp
            pids.add(int(stat.parent.name))
    return pids


def broker_queue_length(queue: str) -> int:
    client = redis.Redis.from_url(waits.redis_url())
    return int(client.llen(str(settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "")) + queue))


def test_a_killed_workers_steps_are_reclaimed_within_the_bound_behind_a_backlog(alice, project) -> None:
    slow = make_component(project=project, actor=alice, name="Slow", code=SLOW)
    steps = [{"id": f"s{i}", "component": slow.pk, "inputs": {}, "timeout": TIMEOUT} for i in range(1, STEPS + 1)]
    workflow = make_workflow(project=project, actor=alice, steps=steps)
    executions = []
    try:
        with (
            servers.celery_beat(**ENV),
            servers.celery_worker(name="doomed", **ENV) as doomed,
            servers.celery_worker(name="survivor", **ENV),
        ):
            executions = [runs.execution_start(workflow=workflow, inputs={}, user=alice) for _ in range(2)]
            deadline = time.monotonic() + 90
            while True:
                assert time.monotonic() < deadline, "the doomed worker never ran a step behind a backlog"
                doomed_pids = group_pids(doomed.pid)
                queued = StepRun.objects.filter(execution__in=executions, status=StepStatus.QUEUED).count()
                held = StepRun.objects.filter(execution__in=executions, status=StepStatus.RUNNING)
                owners = {int(row.lease_owner.rsplit(":", 1)[1]) for row in held}
                if queued >= 200 and owners & doomed_pids:
                    break
                time.sleep(0.05)
            os.killpg(doomed.pid, signal.SIGKILL)  # the whole worker, holding its step
            killed_at = time.monotonic()
            doomed.wait(10)

            lost = [
                row
                for row in StepRun.objects.filter(execution__in=executions, status=StepStatus.RUNNING)
                if int(row.lease_owner.rsplit(":", 1)[1]) in doomed_pids
            ]
            assert lost, "the killed worker held no step"
            bound = TIMEOUT + GRACE + TICK + MARGIN
            while True:
                for row in lost:
                    row.refresh_from_db()
                if all(row.status != StepStatus.RUNNING for row in lost):
                    break
                waited = time.monotonic() - killed_at
                assert waited < bound, f"lost steps not reclaimed {waited:.0f} s after the kill (bound {bound} s)"
                time.sleep(0.2)
            reclaimed_after = time.monotonic() - killed_at
            time.sleep(2 * RESEND)  # the queued steps are stale by now, and their messages still queued
            backlog = StepRun.objects.filter(execution__in=executions, status=StepStatus.QUEUED).count()
            messages = broker_queue_length("celery")
    finally:
        for execution in executions:
            engine.cancel(execution.pk)
        app.control.purge()  # this run's queues: nothing left for a later test's workers

    assert backlog >= 100, f"measured without a backlog ({backlog} queued when the steps were reclaimed)"
    print(f"reclaimed {reclaimed_after:.1f} s after the kill, {backlog} steps still queued, {messages} messages")
    # Steps waiting behind a backlog are not lost: they are not sent again every RESEND seconds,
    # which would multiply the queue (each copy is a no-op when its turn comes, but a broker hop).
    assert messages <= backlog + 20, f"{messages} messages queued for {backlog} queued steps"
    for row in lost:
        assert row.status == StepStatus.FAILED
        assert row.finished_at is not None
        assert row.lease_expires_at is not None
        assert row.finished_at >= row.lease_expires_at  # not before its lease expired
        assert row.error is not None
        assert row.error["code"] == WORKER_LOST
        retry = StepRun.objects.get(execution=row.execution, step=row.step, attempt=row.attempt + 1)
        assert retry.idempotency_key == row.idempotency_key  # queued again, behind the backlog


def test_one_tick_at_a_time_and_queued_ticks_collapse(alice, project) -> None:
    """A tick skips while another holds the lock, and the lock outlives a tick by half a period,
    so the ticks queued while every worker was busy do not each repeat the repairs."""
    component = make_component(project=project, actor=alice, name="Slow", code=SLOW)
    workflow = make_workflow(project=project, actor=alice, steps=[{"id": "a", "component": component.pk, "inputs": {}}])
    execution = runs.execution_start(workflow=workflow, inputs={}, user=alice)  # no worker: nothing runs it
    claimed = engine.advance(execution.pk, claim=True).claimed  # leased to this process, as a worker would be
    assert claimed is not None
    StepRun.objects.filter(pk=claimed.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))  # lost
    client = redis.Redis.from_url(waits.redis_url())
    lock = str(settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "")) + tasks.TICK_LOCK
    try:
        client.set(lock, "another worker", ex=5)
        tasks.tick()
        assert StepRun.objects.get(pk=claimed.pk).status == StepStatus.RUNNING  # skipped: another is ticking

        client.delete(lock)
        tasks.tick()
        assert StepRun.objects.get(pk=claimed.pk).status == StepStatus.FAILED  # reclaimed
        period = cast("float", settings.CELERY_BEAT_SCHEDULE["workflows.tick"]["schedule"])
        assert 0 < client.pttl(lock) <= period * 500  # held half a period more: the next queued tick skips
    finally:
        client.delete(lock)
        engine.cancel(execution.pk)
        app.control.purge()


def test_a_queued_step_is_sent_again_only_when_its_message_can_be_lost(alice, project) -> None:
    """A step queued longer than WORKFLOW_RESEND_SECONDS is sent again when fewer messages wait
    than such steps (a message was lost: Redis restarted, say), not when it waits behind a backlog."""
    component = make_component(project=project, actor=alice, name="Slow", code=SLOW)
    workflow = make_workflow(project=project, actor=alice, steps=[{"id": "a", "component": component.pk, "inputs": {}}])
    execution = runs.execution_start(workflow=workflow, inputs={}, user=alice)  # no worker: nothing runs it
    try:
        (queued,) = engine.advance(execution.pk).others
        old = timezone.now() - timedelta(seconds=settings.WORKFLOW_RESEND_SECONDS + 1)

        StepRun.objects.filter(pk=queued).update(next_attempt_at=old)
        report = engine.tick(messages_queued=1)  # a message waits for it, behind others perhaps
        assert (report.resent, report.dispatch) == (0, [])

        report = engine.tick(messages_queued=0)  # nothing waits: its message was lost
        assert (report.resent, report.dispatch) == (1, [queued])
        assert engine.tick(messages_queued=0).resent == 0  # sent again once, not every tick
    finally:
        engine.cancel(execution.pk)
        app.control.purge()
