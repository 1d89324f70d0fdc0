"""Running a component: start (in the web process), execute (in a Celery worker), wait (for sync calls).

The Execution row is the source of truth: ``run_start`` validates the inputs, counts the request
against the plan, records a queued Execution and enqueues its id after commit; the worker claims
it (queued → running, once), runs the implementation and records the outcome.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import ApiKey, User
from accounts.services import member_ids, usage_consume, usage_give_back
from components import errors
from components.callers import require_may_name_credentials
from components.errors import RunError
from components.invocation import MAX_LOG_LINES, Invocation, invoke
from components.models import Component, ComponentVersion, Execution, Status, Trigger
from components.types import coerce_inputs, require_storable
from synchronise.lib import waits
from synchronise.lib.events import publish_change
from synchronise.outages import send_or_take_back

DRAFT = "draft"
logger = logging.getLogger(__name__)


def implementation_of(component: Component, version: int | str | None) -> Component | ComponentVersion:
    """The draft (``"draft"``), a version by number, or the latest version (``None``).

    Raises ``RunError`` 104 for an unknown version; a component never published runs its draft
    only from the editor (``"draft"``).
    """
    if version == DRAFT:
        return component
    versions = component.versions.all()
    try:
        found = versions.filter(number=int(version)).first() if version is not None else versions.first()
    except ValueError:
        found = None  # not a number: no such version
    if found is None:
        what = f"version {version}" if version is not None else "a published version"
        raise RunError(errors.UNKNOWN_ID, f"component {component.pk} has no {what}")
    return found


def _finish(execution: Execution, *, status: str, outputs: Any = None, error: dict[str, Any] | None = None) -> None:
    now = timezone.now()
    started = execution.started_at or now
    # Only a run still running under its lease: one the repair loop failed keeps that outcome.
    finished = Execution.objects.filter(
        pk=execution.pk, status=Status.RUNNING, lease_expires_at=execution.lease_expires_at
    ).update(
        status=status,
        outputs=outputs or {},
        error=error,
        logs=execution.logs[-MAX_LOG_LINES:],
        started_at=started,
        finished_at=now,
        duration_ms=round((now - started).total_seconds() * 1000, 3),
    )
    if not finished:
        return
    announce(execution)
    # Wakes run_wait in the web process. The worker runs in autocommit, where on_commit runs at
    # once; inside a transaction it waits for the commit, so a waiter never reads the old row.
    key = waits.key_for("execution", execution.pk)
    transaction.on_commit(lambda: waits.notify(key), robust=True)


def announce(execution: Execution) -> None:
    """Tell the pages watching this execution (and its component's list of runs) to refresh."""
    publish_change(
        "executionUpdate",
        filters={"id": execution.pk, "component_id": execution.component_id},
        recipients=member_ids(execution.project),
    )


def run_start(
    *,
    component: Component,
    inputs: dict[str, Any],
    trigger: str = Trigger.API,
    version: int | str | None = None,
    user: User | None = None,
    api_key: ApiKey | None = None,
) -> Execution:
    """Validate, count and enqueue a run; returns the queued Execution.

    Raises ``RunError``: 101/102 for bad inputs (recorded as a failed execution, not counted;
    inputs that cannot be stored as UTF-8 JSON or nest too deep: 101, nothing recorded),
    104 for an unknown version, 105 for a credential chosen by a caller who may not edit the project
    (``components.callers``; nothing recorded), 108 when the plan's monthly quota is used up (nothing recorded).
    """
    require_storable(inputs)  # 101, nothing recorded: a row UTF-8 cannot encode broke every list
    implementation = implementation_of(component, version)
    # Before anything is recorded or counted: a caller who may not edit the project cannot choose a credential.
    require_may_name_credentials(
        project=component.project,
        specs=implementation.inputs,
        inputs=inputs,
        user=user,
        api_key=api_key,
        trigger=trigger,
    )
    version_row = implementation if isinstance(implementation, ComponentVersion) else None
    execution = Execution(
        project=component.project,
        component=component,
        version=version_row,
        trigger=trigger,
        inputs=inputs,
        user=user if user is not None and user.is_authenticated else None,
        api_key=api_key,
    )
    try:
        execution.inputs = coerce_inputs(implementation.inputs, inputs)
    except RunError as error:
        # Recorded, so the caller can find out what was sent; not counted against the plan.
        execution.status, execution.error = Status.FAILED, error.as_dict()
        execution.started_at = execution.finished_at = timezone.now()
        execution.save()
        raise
    with transaction.atomic():
        execution.save()
        usage = usage_consume(project=component.project)  # last: it locks the owner's counter
        if not usage.allowed:
            raise RunError(
                errors.QUOTA_EXCEEDED,
                "the monthly request quota of this project's plan is used up",
                quota=usage.quota,
                used=usage.used,
            )
        transaction.on_commit(lambda: _enqueue(execution))
        announce(execution)
    return execution


def _enqueue(execution: Execution) -> None:
    """Send the committed run to a worker. With the broker (Redis) down, the run is taken back,
    row and count, and the caller answered 503 (``ServiceUnavailable``): nothing would ever send it
    again (component executions have no resend), and a caller retrying after the 503 must not find
    it run twice or counted twice."""
    from components.tasks import run_component

    def take_back() -> None:
        if Execution.objects.filter(pk=execution.pk, status=Status.QUEUED).delete()[0]:
            usage_give_back(project=execution.project, day=execution.created_at.date())

    send_or_take_back(lambda: run_component.delay(execution.pk), take_back)


def run_wait(execution: Execution, *, timeout: float) -> Execution:
    """The execution once finished, or as it stands after ``timeout`` seconds.

    Woken by the notification ``_finish`` sends; the row decides, and is read again at least every
    ``waits.FALLBACK_POLL_SECONDS`` in case a notification is lost.
    """

    def finished() -> bool:
        execution.refresh_from_db()
        return execution.is_finished

    waits.wait_for(waits.key_for("execution", execution.pk), timeout, until=finished)
    return execution


def lease_seconds(execution: Execution) -> float:
    """How long a claimed run may take before the repair loop calls its worker lost: the plan's wall
    time (code) and the whole-request timeout (http, OAuth2 refreshes included), plus the grace."""
    from components.code_runner import limits_for

    wall = float(limits_for(execution.project).wall_seconds) + 2 * float(settings.OUTBOUND_TIMEOUT)
    return wall + float(getattr(settings, "WORKFLOW_LEASE_GRACE_SECONDS", 10.0))


def run_execute(execution_id: int) -> None:
    """Worker side: claim the execution and run it; a second delivery of the same id does nothing.

    A crash of ours while it runs finishes it failed (124) at once; a worker that dies leaves it to
    ``run_repair`` once its lease has expired."""
    now = timezone.now()
    execution = Execution.objects.select_related("component", "version", "project").filter(pk=execution_id).first()
    if execution is None or execution.status != Status.QUEUED:
        return
    lease = now + timedelta(seconds=lease_seconds(execution))
    claimed = Execution.objects.filter(pk=execution_id, status=Status.QUEUED).update(
        status=Status.RUNNING, started_at=now, lease_expires_at=lease
    )
    if not claimed:
        return
    execution.status, execution.started_at, execution.lease_expires_at = Status.RUNNING, now, lease
    try:
        _execute(execution)
    except Exception:
        # A bug of ours (or a value no check foresaw) must not leave the run `running`: record it and log it.
        error = {"code": errors.EXECUTION_FAILED, "message": "the run failed for a reason of ours"}
        if _finish_running(execution, error=error):
            logger.exception("execution %s crashed", execution.pk)
            return
        raise


def run_repair(*, now: datetime | None = None) -> int:
    """Fail the running executions whose lease expired (their worker died or hung); returns how many.

    Called by the repair loop (``workflows.tick``). Conditional on the row still running under the
    same lease, so a worker finishing at the same moment keeps its result."""
    now = now or timezone.now()
    # Runs claimed before leases existed have none: lost if still running an hour after they started.
    unleased = Q(lease_expires_at=None, started_at__lt=now - timedelta(hours=1))
    expired = Execution.objects.filter(Q(lease_expires_at__lt=now) | unleased, status=Status.RUNNING)
    repaired = 0
    for execution in expired[:500]:
        error = {"code": errors.EXECUTION_FAILED, "message": "the worker running this execution was lost"}
        repaired += _finish_running(execution, error=error)
    return repaired


def _finish_running(execution: Execution, *, error: dict[str, Any]) -> bool:
    """Fail ``execution`` if it is still running under the lease it was read with."""
    now = timezone.now()
    started = execution.started_at or now
    done = Execution.objects.filter(
        pk=execution.pk, status=Status.RUNNING, lease_expires_at=execution.lease_expires_at
    ).update(
        status=Status.FAILED,
        error=error,
        finished_at=now,
        duration_ms=round((now - started).total_seconds() * 1000, 3),
    )
    if done:
        announce(execution)
        key = waits.key_for("execution", execution.pk)
        transaction.on_commit(lambda: waits.notify(key), robust=True)
    return bool(done)


def _execute(execution: Execution) -> None:
    announce(execution)

    def on_logs(lines: list[str]) -> None:
        Execution.objects.filter(pk=execution.pk).update(logs=lines[-MAX_LOG_LINES:])
        announce(execution)

    invocation = Invocation(
        project=execution.project,
        implementation=execution.version or execution.component,
        inputs=execution.inputs,
        idempotency_key=f"execution-{execution.pk}",
        logs=execution.logs,
        on_logs=on_logs,
    )
    try:
        outputs = invoke(invocation)
    except RunError as error:
        status = Status.TIMED_OUT if error.code == errors.WALL_TIME else Status.FAILED
        _finish(execution, status=status, error=error.as_dict())
        return
    _finish(execution, status=Status.SUCCEEDED, outputs=outputs)
