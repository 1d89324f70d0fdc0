"""Running a component: start (in the web process), execute (in a Celery worker), wait (for sync calls).

The Execution row is the source of truth: ``run_start`` validates the inputs, counts the request
against the plan, records a queued Execution and enqueues its id after commit; the worker claims
it (queued → running, once), runs the implementation and records the outcome.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import ApiKey, User
from accounts.services import member_ids, usage_consume
from components import errors
from components.callers import require_may_name_credentials
from components.errors import RunError
from components.invocation import MAX_LOG_LINES, Invocation, invoke
from components.models import Component, ComponentVersion, Execution, Status, Trigger
from components.types import coerce_inputs
from synchronise.lib import waits
from synchronise.lib.events import publish_change

DRAFT = "draft"


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
    Execution.objects.filter(pk=execution.pk).update(
        status=status,
        outputs=outputs or {},
        error=error,
        logs=execution.logs[-MAX_LOG_LINES:],
        started_at=started,
        finished_at=now,
        duration_ms=round((now - started).total_seconds() * 1000, 3),
    )
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

    Raises ``RunError``: 101/102 for bad inputs (recorded as a failed execution, not counted),
    104 for an unknown version, 105 for a credential chosen by a caller who may not edit the project
    (``components.callers``; nothing recorded), 108 when the plan's monthly quota is used up (nothing recorded).
    """
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
        from components.tasks import run_component

        transaction.on_commit(lambda: run_component.delay(execution.pk))
        announce(execution)
    return execution


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


def run_execute(execution_id: int) -> None:
    """Worker side: claim the execution and run it; a second delivery of the same id does nothing."""
    claimed = Execution.objects.filter(pk=execution_id, status=Status.QUEUED).update(
        status=Status.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return
    execution = Execution.objects.select_related("component", "version", "project").get(pk=execution_id)
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
