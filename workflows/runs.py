"""Starting and steering workflow executions: start, wait, cancel, replay, restart from a step.

``execution_start`` is the one entry point of every trigger (API, legacy route, webhook,
schedule, editor): it resolves the version to run, validates the inputs, counts the request
against the plan, records a queued execution and asks a worker to advance it after commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import ApiKey, ApiKeyKind, Permission, Project, User
from accounts.services import require_permission, usage_consume, usage_give_back
from components import errors
from components.callers import require_may_name_credentials
from components.errors import RunError
from components.types import coerce_inputs, require_storable
from synchronise.lib import waits
from synchronise.lib.compiled import select_rows
from synchronise.outages import send_or_take_back
from workflows import definition as definitions
from workflows import engine
from workflows.models import (
    FINISHED,
    Status,
    StepRun,
    StepStatus,
    Trigger,
    Workflow,
    WorkflowExecution,
    WorkflowVersion,
)
from workflows.services import plan_for, resolved_versions

DRAFT = "draft"


def _definition(workflow: Workflow, version: int | str | None) -> tuple[dict[str, Any], Any]:
    """(definition, version row or None) for ``"draft"``, a version number or the latest version."""
    if version == DRAFT:
        return workflow.definition, None
    if version in (None, ""):
        found = _latest_version(workflow.pk)
    else:
        found = workflow.versions.filter(number=int(version)).first()
    if found is None:
        what = f"version {version}" if version not in (None, "") else "a published version"
        raise RunError(errors.UNKNOWN_ID, f"workflow {workflow.pk} has no {what}")
    return found.definition, found


def _require_editor(workflow: Workflow, user: User | None, api_key: ApiKey | None) -> None:
    """The draft is unpublished code on the owner's quota and credentials: it runs for the project's
    editors only (a secret key as the person who made it; a publishable key, never). 105 otherwise."""
    refused = RunError(errors.NOT_ALLOWED, "the draft runs only for the project's editors")
    if user is None or (api_key is not None and api_key.kind == ApiKeyKind.PUBLISHABLE):
        raise refused
    try:
        require_permission(workflow.project, user, Permission.EDIT)
    except (PermissionDenied, Project.DoesNotExist):
        raise refused from None


def _latest_version(workflow_id: int) -> WorkflowVersion | None:
    """The latest published version: its id in one statement compiled once, then the row itself,
    read once a process (published versions never change)."""
    rows = select_rows(
        "latest-version",
        lambda: WorkflowVersion.objects.filter(workflow_id=0).order_by("-number").values_list("pk")[:1],
        [0],
        [workflow_id],
    )
    if not rows:
        return None
    (pk,) = rows[0]
    found = _versions.get(pk)
    if found is None:
        if len(_versions) > 1000:
            _versions.clear()
        found = _versions[pk] = WorkflowVersion.objects.get(pk=pk)
    return found


_versions: dict[int, WorkflowVersion] = {}
_parsed_versions: dict[int, definitions.Definition] = {}
_plans: dict[tuple[Any, ...], tuple[dict[str, Any], str]] = {}


def forget_cached() -> None:
    """Drop this process's versions and plans (tests: primary keys are reused after a rollback)."""
    _versions.clear()
    _plans.clear()
    _parsed_versions.clear()


def _plan(
    workflow: Workflow, definition: dict[str, Any], version: WorkflowVersion | None
) -> tuple[dict[str, Any], str]:
    """``plan_for`` and the plan's digest, remembered per process for a published version and the
    component versions its steps resolve to now (a new component version makes a new plan, checked
    again)."""
    if version is None:
        plan = plan_for(workflow.project, definition)
        return plan, engine.plan_digest(plan)
    parsed = _parsed_versions.get(version.pk)
    if parsed is None:
        parsed = _parsed_versions[version.pk] = definitions.parse(definitions.clean(version.definition))
    key = (version.pk, resolved_versions(workflow.project, parsed))
    found = _plans.get(key)
    if found is None:
        if len(_plans) > 1000:
            _plans.clear()
            _parsed_versions.clear()
        plan = plan_for(workflow.project, definition)
        found = _plans[key] = (plan, engine.plan_digest(plan))
    return found


def execution_start(
    *,
    workflow: Workflow,
    inputs: dict[str, Any],
    trigger: str = Trigger.API,
    version: int | str | None = None,
    user: User | None = None,
    api_key: ApiKey | None = None,
    idempotency_key: str = "",
    source: WorkflowExecution | None = None,
    restart_from: str = "",
    plan: dict[str, Any] | None = None,
    owner: User | None = None,
) -> WorkflowExecution:
    """A queued execution, or the existing one when ``idempotency_key`` was seen for this workflow.
    ``owner``: the project's owner, when the caller has read it already (the webhook's rate limit).

    Raises ``RunError``: 101/102 for bad inputs (recorded as a failed execution, not counted),
    104 for an unknown version, 105 for a definition with problems, the draft asked for by someone
    who may not edit, or a credential chosen by a caller who may not edit (``components.callers``;
    nothing recorded), 108 when over quota.
    """
    require_storable(inputs)  # 101, nothing recorded: a row UTF-8 cannot encode broke every list
    if version == DRAFT:
        _require_editor(workflow, user, api_key)
    if idempotency_key:
        existing = WorkflowExecution.objects.filter(workflow=workflow, idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
    if plan is None:
        definition, version_row = _definition(workflow, version)
        try:
            plan, digest = _plan(workflow, definition, version_row)
        except ValidationError as invalid:
            problems = invalid.message_dict.get("definition", invalid.messages)
            raise RunError(errors.NOT_ALLOWED, "the workflow has problems: " + "; ".join(problems)) from None
    else:
        version_row = source.version if source else None
        digest = engine.plan_digest(plan)
        if not plan.get("steps"):  # a plan pinned before empty workflows were refused
            raise RunError(errors.NOT_ALLOWED, f"the workflow has problems: steps: {definitions.NO_STEPS}")
    # Before anything is recorded or counted: a caller who may not edit the project cannot choose a credential.
    require_may_name_credentials(
        project=workflow.project,
        specs=plan.get("inputs", []),
        inputs=inputs,
        user=user,
        api_key=api_key,
        trigger=trigger,
    )
    execution = WorkflowExecution(
        project=workflow.project,
        workflow=workflow,
        version=version_row,
        plan=plan,
        plan_digest=digest,
        trigger=trigger,
        inputs=inputs,
        user=user if user is not None and user.is_authenticated else None,
        api_key=api_key,
        idempotency_key=idempotency_key[:200],
        source=source,
        restart_from=restart_from,
    )
    try:
        execution.inputs = coerce_inputs(plan.get("inputs", []), inputs)
    except RunError as error:
        execution.status, execution.error = Status.FAILED, error.as_dict()
        execution.finished_at = timezone.now()  # never started: not counted by a rate limit
        execution.save()
        raise
    try:
        with transaction.atomic():
            execution.save()
            if source is not None and restart_from:
                _reuse_before(source, execution, restart_from)
            usage = usage_consume(project=workflow.project, owner=owner)  # last: it locks the owner's counter
            if not usage.allowed:
                raise RunError(
                    errors.QUOTA_EXCEEDED,
                    "the monthly request quota of this project's plan is used up",
                    quota=usage.quota,
                    used=usage.used,
                )
            _dispatch_advance(execution)
            engine.announce(execution)
    except IntegrityError:
        if not idempotency_key:
            raise
        return WorkflowExecution.objects.get(workflow=workflow, idempotency_key=idempotency_key)  # a racing twin
    return execution


def execution_record_refused(
    *, workflow: Workflow, trigger: str, inputs: dict[str, Any], error: RunError, idempotency_key: str = ""
) -> WorkflowExecution:
    """A failed execution for a run that could not start (no published version, problems, over
    quota), for triggers nobody waits on — schedules — so the refusal shows in the executions list.
    Not counted against the plan, nor by the workflow's rate limit (it never started). Its plan is
    empty: a replay runs the workflow as it is then."""
    now = timezone.now()
    fields = {
        "project": workflow.project,
        "plan": {},
        "trigger": trigger,
        "inputs": inputs,
        "status": Status.FAILED,
        "error": error.as_dict(),
        "finished_at": now,
        "duration_ms": 0,
    }
    if idempotency_key:  # a second beat firing the same slot finds the first refusal
        execution, _ = WorkflowExecution.objects.get_or_create(
            workflow=workflow, idempotency_key=idempotency_key[:200], defaults=fields
        )
    else:
        execution = WorkflowExecution.objects.create(workflow=workflow, **fields)
    engine.announce(execution)
    return execution


def _dispatch_advance(execution: WorkflowExecution) -> None:
    """Once committed, the first task; with the broker down the execution is taken back (row and
    count) and the caller answered 503, rather than left queued until the repair loop's next tick
    after Redis returns (it would run then: the tick advances queued executions) while its caller,
    told 503, sends it again."""
    from workflows.tasks import advance_execution

    def take_back() -> None:
        if WorkflowExecution.objects.filter(pk=execution.pk, status=Status.QUEUED).delete()[0]:
            usage_give_back(project=execution.project, day=execution.created_at.date())

    transaction.on_commit(lambda: send_or_take_back(lambda: advance_execution.delay(execution.pk), take_back))


def execution_wait(execution: WorkflowExecution, *, timeout: float) -> WorkflowExecution:
    """The execution once finished, or as it stands after ``timeout`` seconds."""

    def finished() -> bool:
        execution.refresh_from_db()
        return execution.is_finished

    waits.wait_for(engine.finished_key(execution.pk), timeout, until=finished)
    return execution


async def execution_await(
    execution: WorkflowExecution, *, timeout: float, since: waits.Mark | None = None
) -> WorkflowExecution:
    """``execution_wait`` for async views: no thread or database connection is held while the
    execution runs. ``since``: a ``waits.mark()`` taken before the execution was started. The
    engine's notification carries the answer (``engine.answer_message``), so an execution that ends
    while it is awaited is usually answered without reading its row."""
    from channels.db import database_sync_to_async

    @database_sync_to_async  # the connection goes back to the pool after each look
    def finished() -> bool:
        execution.refresh_from_db(fields=engine.ANSWER_FIELDS)
        return execution.is_finished

    def settle(message: bytes) -> bool:
        answer = engine.read_answer(message)
        if answer is None:
            return False
        for name in engine.ANSWER_FIELDS:
            setattr(execution, name, answer[name])
        return True

    await waits.await_for(engine.finished_key(execution.pk), timeout, until=finished, since=since, settle=settle)
    return execution


def _require_edit(execution: WorkflowExecution, actor: User | None) -> None:
    if actor is not None:
        require_permission(execution.project, actor, Permission.EDIT)


def execution_cancel(*, execution: WorkflowExecution, actor: User | None) -> bool:
    """Cancel now (needs ``edit``); works for queued, running and stuck executions alike.
    Returns whether it was still running."""
    _require_edit(execution, actor)
    return engine.cancel(execution.pk, message="cancelled" + (f" by {actor.email}" if actor else ""))


def execution_replay(*, execution: WorkflowExecution, actor: User | None) -> WorkflowExecution:
    """A new execution of the same plan with the same inputs (needs ``edit``). A run that was
    refused before it started (``execution_record_refused``: no plan) runs the workflow as it is now."""
    _require_edit(execution, actor)
    return execution_start(
        workflow=execution.workflow,
        inputs=execution.inputs,
        trigger=Trigger.REPLAY,
        user=actor,
        source=execution,
        plan=execution.plan or None,
    )


def execution_restart(*, execution: WorkflowExecution, step: str, actor: User | None) -> WorkflowExecution:
    """A new execution of the same plan and inputs that reuses the outputs of every step not
    downstream of ``step`` and runs ``step`` and what follows it again (needs ``edit``)."""
    _require_edit(execution, actor)
    definition = engine.plan_of(execution)
    if step not in definition.by_id:
        raise ValidationError({"step": [f"no step named {step} in this execution"]})
    if not execution.is_finished:
        raise ValidationError({"step": ["the execution is still running; cancel it first"]})
    return execution_start(
        workflow=execution.workflow,
        inputs=execution.inputs,
        trigger=Trigger.RESTART,
        user=actor,
        source=execution,
        restart_from=step,
        plan=execution.plan,
    )


def _reuse_before(source: WorkflowExecution, execution: WorkflowExecution, step: str) -> None:
    """Copy the final step runs of the steps that ``step`` does not affect."""
    definition = engine.plan_of(source)
    again = {step, *definition.dependents(step)}
    latest: dict[tuple[str, int], StepRun] = {}
    for row in StepRun.objects.filter(execution=source).exclude(step__in=again).order_by("attempt"):
        latest[(row.step, row.item)] = row
    copies = []
    for row in latest.values():
        if row.status not in (StepStatus.SUCCEEDED, StepStatus.SKIPPED, StepStatus.FAILED):
            continue
        if isinstance(row.outputs, dict) and row.outputs.get("_truncated"):
            raise ValidationError({"step": [f"the stored outputs of {row.step} were truncated; replay instead"]})
        copies.append(
            StepRun(
                execution=execution,
                step=row.step,
                item=row.item,
                items=row.items,
                attempt=1,
                status=row.status,
                idempotency_key=f"wf{execution.pk}-{row.step}-{row.item}",
                reused=True,
                inputs=row.inputs,
                outputs=row.outputs,
                logs=row.logs,
                error=row.error,
                started_at=row.started_at,
                finished_at=row.finished_at,
                duration_ms=row.duration_ms,
            )
        )
    StepRun.objects.bulk_create(copies)


BAD_INPUT_CODES = (errors.INCORRECT_INPUT, errors.MISSING_INPUT)
SKIPPED_SHOWN = 10  # ids named in the message; the count covers them all
SKIPPED_REASON = "they failed on bad input (101/102): re-running them with the same inputs would fail again"


@dataclass(frozen=True)
class Rerun:
    """What ``executions_rerun_failed`` did: the replays it started, and the failures it left out
    on purpose (bad inputs, which would fail again) so the caller can say why."""

    started: list[WorkflowExecution]
    skipped: int  # failed on bad input
    skipped_ids: list[int]  # the newest of them, at most SKIPPED_SHOWN

    @property
    def message(self) -> str:
        """One sentence for a person: what was started and, when any, what was skipped and why."""
        count = len(self.started)
        if count:
            said = f"Re-running {count} failed execution{'s' if count != 1 else ''}."
        else:
            said = "Nothing was re-run." if self.skipped else "No failed execution is left to re-run."
        if self.skipped:
            more = ", …" if self.skipped > len(self.skipped_ids) else ""
            ids = ", ".join(f"#{pk}" for pk in self.skipped_ids) + more
            were = "execution was" if self.skipped == 1 else "executions were"
            said += f" {self.skipped} failed {were} skipped ({ids}): {SKIPPED_REASON}; run them with corrected inputs."
        return said


def executions_rerun_failed(*, workflow: Workflow, actor: User, limit: int = 100) -> Rerun:
    """Replay the workflow's newest failed or timed-out executions that were not replayed or
    restarted yet (needs ``edit``), so asking twice re-runs each failure once. Failures of bad inputs
    (101, 102) are left out: they would fail the same way; the answer counts them. When a replay is
    refused (the quota is used up, the workflow has problems), the ones started so far are
    returned, or the refusal raised if none was."""
    require_permission(workflow.project, actor, Permission.EDIT)
    rerun = WorkflowExecution.objects.filter(workflow=workflow, source__isnull=False).values("source")
    failures = workflow.executions.filter(status__in=(Status.FAILED, Status.TIMED_OUT)).exclude(pk__in=rerun)
    failed = failures.exclude(error__code__in=BAD_INPUT_CODES).order_by("-created_at", "-id")
    bad_input = failures.filter(error__code__in=BAD_INPUT_CODES).order_by("-created_at", "-id")
    started: list[WorkflowExecution] = []
    with transaction.atomic():
        type(workflow).objects.select_for_update().filter(pk=workflow.pk).first()  # one bulk re-run at a time
        for execution in failed[:limit]:
            try:
                started.append(execution_replay(execution=execution, actor=actor))
            except RunError:
                if not started:
                    raise
                break
    shown = list(bad_input.values_list("pk", flat=True)[:SKIPPED_SHOWN])
    skipped = len(shown) if len(shown) < SKIPPED_SHOWN else bad_input.count()
    return Rerun(started=started, skipped=skipped, skipped_ids=shown)


__all__ = ["DRAFT", "FINISHED", "Rerun", "execution_cancel", "execution_replay", "execution_restart", "execution_start"]
