"""The workflow engine: a state machine over ``WorkflowExecution`` and ``StepRun`` rows.

The database is the source of truth; Celery messages carry ids only (``workflows/tasks.py``).

* ``advance(execution_id)`` locks the execution, admits it (concurrency and rate limits), decides
  which steps are now ready (dependencies settled, ``run_if``, ``for_each``), records their step
  runs with resolved inputs, and finishes the execution when every step is settled. It returns the
  ids of the step runs it queued; the caller dispatches them.
* ``run_step(step_run_id)`` claims a queued step run with a lease, invokes the component, and in
  one transaction records the result (scheduling a retry from the database when the policy says
  so) and advances the execution. A step's result is committed before any step after it starts.
* ``tick()`` (every second, from beat) repairs and schedules: reclaims step runs whose lease
  expired (their worker died; the step is retried with the same idempotency key), queues retries
  that are due, re-sends queued step runs whose message may be lost, times out executions past
  their deadline and admits executions waiting for a slot.

A step run only ever moves forward through a conditional ``UPDATE … WHERE status = …``, so a
duplicated message, a reclaimed lease or a cancel racing a worker cannot record a result twice.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import random
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.services import member_ids
from components import errors
from components.errors import RunError
from components.invocation import Invocation, http_timeout, invoke
from components.models import ComponentVersion, Kind
from components.types import check_outputs, coerce_inputs
from synchronise.lib.events import publish_change
from workflows import definition as definitions
from workflows import statements
from workflows.definition import WORKER_LOST, Definition, Retry, Step
from workflows.expressions import TemplateProblem, evaluate, truthy
from workflows.models import (
    FINISHED,
    STEP_DONE,
    Status,
    StepRun,
    StepStatus,
    WorkflowExecution,
)
from workflows.secret_bindings import secret_bindings_refused

logger = logging.getLogger(__name__)

ACTIVE = (StepStatus.PENDING, StepStatus.WAITING, StepStatus.QUEUED, StepStatus.RUNNING)
BAD_BINDING = errors.INCORRECT_INPUT
MAX_INTERRUPTIONS = 3  # a step whose worker died this many times fails instead of being retried


@dataclass
class Next:
    """What to run after an engine call: ``claimed`` is already leased to this worker (run it
    inline with ``run_claimed``), ``others`` go to the broker for any worker."""

    claimed: StepRun | None = None
    others: list[int] = field(default_factory=list)


_cache: dict[tuple[str, int], tuple[float, Any]] = {}


def _cached(kind: str, key: int, load: Any, seconds: float = 5.0) -> Any:
    """A per-process cache of slow-changing reads on the per-step path (members, plan limits)."""
    now = time.monotonic()
    hit = _cache.get((kind, key))
    if hit is None or now - hit[0] > seconds:
        if len(_cache) > 10_000:
            _cache.clear()
        hit = _cache[(kind, key)] = (now, load())
    return hit[1]


def forget_cached() -> None:
    """Drop this process's caches (tests: primary keys are reused after a rollback)."""
    _cache.clear()
    _plans.clear()
    _implementation.cache_clear()


def _setting(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


def worker_id() -> str:
    """Who holds a lease: host and process (a forked worker child has its own)."""
    return f"{socket.gethostname()}:{os.getpid()}"


_plans: dict[str, Definition] = {}


def plan_digest(plan: dict[str, Any]) -> str:
    """The SHA-256 of the plan's canonical JSON, recorded with each execution at its start."""
    canonical = json.dumps(plan, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)
    return hashlib.sha256(canonical.encode()).hexdigest()


def plan_of(execution: WorkflowExecution) -> Definition:
    """The parsed plan of an execution. Plans are immutable and the executions of a version share
    theirs: each process parses each plan once, found by its digest, and reads the plan itself (a
    deferred field on the engine's reads) only for the first execution of it that it sees."""
    digest = execution.plan_digest or plan_digest(execution.plan)  # no digest: started before it existed
    found = _plans.get(digest)
    if found is None:
        if len(_plans) >= 1024:
            _plans.clear()
        found = _plans[digest] = definitions.parse(execution.plan)
    return found


@lru_cache(maxsize=512)
def _implementation(version_id: int) -> ComponentVersion:
    """Component versions never change, so each worker process loads each one once."""
    return ComponentVersion.objects.select_related("component").get(pk=version_id)


# --- Reading the state ------------------------------------------------------------------------


@dataclass
class StepState:
    """Where one step stands, from the latest attempt of each of its items."""

    status: str | None = None  # None: not started; else a StepStatus (aggregate)
    rows: dict[int, dict[str, Any]] = field(default_factory=dict)  # item → latest attempt
    items: int = 1

    @property
    def settled(self) -> bool:
        return self.status in STEP_DONE


def _states(definition: Definition, rows: Iterable[dict[str, Any]]) -> dict[str, StepState]:
    states = {step.id: StepState() for step in definition.steps}
    for row in rows:
        state = states.get(row["step"])
        if state is None:
            continue
        state.items = row["items"]
        current = state.rows.get(row["item"])
        if current is None or row["attempt"] > current["attempt"]:
            state.rows[row["item"]] = row
    for state in states.values():
        if not state.rows:
            continue
        statuses = {row["status"] for row in state.rows.values()}
        if statuses & set(ACTIVE) or (state.items and len(state.rows) < state.items):
            state.status = StepStatus.RUNNING
        elif statuses == {StepStatus.SUCCEEDED}:
            state.status = StepStatus.SUCCEEDED
        elif statuses == {StepStatus.SKIPPED}:
            state.status = StepStatus.SKIPPED
        elif StepStatus.CANCELLED in statuses:
            state.status = StepStatus.CANCELLED
        elif StepStatus.TIMED_OUT in statuses:
            state.status = StepStatus.TIMED_OUT
        else:
            state.status = StepStatus.FAILED
    return states


def _failed(state: StepState) -> bool:
    return state.status in (StepStatus.FAILED, StepStatus.TIMED_OUT)


def _first_error(state: StepState) -> dict[str, Any] | None:
    for item in sorted(state.rows):
        if state.rows[item].get("error"):
            return state.rows[item]["error"]
    return None


class _Context:
    """The names bindings read, with step outputs loaded only for the steps asked for."""

    def __init__(
        self,
        execution: WorkflowExecution,
        definition: Definition,
        states: dict[str, StepState],
        known: dict[int, dict[str, Any]] | None = None,
    ) -> None:
        self.execution, self.definition, self.states = execution, definition, states
        self.known = known or {}
        self.loaded: dict[str, dict[str, Any]] = {}

    def load(self, step_ids: Iterable[str]) -> None:
        wanted = [s for s in step_ids if s not in self.loaded and self.states[s].rows]
        ids = [row["id"] for s in wanted for row in self.states[s].rows.values()]
        outputs = {pk: self.known[pk] for pk in ids if pk in self.known}
        missing = [pk for pk in ids if pk not in outputs]
        if missing:
            outputs.update(StepRun.objects.filter(pk__in=missing).values_list("id", "outputs"))
        for step_id in wanted:
            state = self.states[step_id]
            step = self.definition.by_id[step_id]
            if step.for_each:
                rows = [state.rows[i] for i in sorted(state.rows) if state.items]  # none: an empty list
                names = (
                    {spec["name"] for spec in _implementation(step.version_id).outputs} if step.version_id else set()
                )
                names |= {name for row in rows for name in (outputs.get(row["id"]) or {})}
                output = {name: [(outputs.get(row["id"]) or {}).get(name) for row in rows] for name in names}
            else:
                row = state.rows.get(0)
                output = (outputs.get(row["id"]) or {}) if row and row["status"] == StepStatus.SUCCEEDED else {}
            self.loaded[step_id] = {"output": output, "error": _first_error(state), "status": state.status}

    def names(self, **extra: Any) -> dict[str, Any]:
        steps = {
            step_id: self.loaded.get(step_id, {"output": {}, "error": None, "status": state.status})
            for step_id, state in self.states.items()
        }
        return {
            "input": self.execution.inputs,
            "inputs": self.execution.inputs,
            "steps": steps,
            "execution": {"id": self.execution.pk, "workflow_id": self.execution.workflow_id},
            "now": timezone.now().isoformat(),
            **extra,
        }


# --- Advancing --------------------------------------------------------------------------------


def announce(execution: WorkflowExecution) -> None:
    """Tell the pages watching this execution, its workflow's and its project's lists to refresh."""
    publish_change(
        "workflowExecutionUpdate",
        filters={"id": execution.pk, "workflow_id": execution.workflow_id, "project_id": execution.project_id},
        recipients=_members(execution.project_id),
    )


def _members(project_id: int) -> list[int]:
    """Member ids, cached for a few seconds: the engine announces every step of every execution."""
    from accounts.models import Project

    return _cached("members", project_id, lambda: member_ids(Project(pk=project_id)))


def _lock(execution_id: int) -> WorkflowExecution | None:
    """The execution, locked until the end of the transaction (others advancing it wait). Without
    its plan: ``plan_of`` has it parsed already (one plan per version, read once a process)."""
    return statements.lock_execution(execution_id)


def _admit(execution: WorkflowExecution) -> bool:
    """Queued → running when the workflow's concurrency and rate limits allow (the workflow row is
    locked, so two admissions cannot both take the last slot)."""
    workflow = execution.workflow
    if workflow.concurrency_limit or workflow.rate_limit_per_minute:
        type(workflow).objects.select_for_update().filter(pk=workflow.pk).first()
        siblings = WorkflowExecution.objects.filter(workflow=workflow).exclude(pk=execution.pk)
        if workflow.concurrency_limit:
            running = siblings.filter(status=Status.RUNNING).count()
            if running >= workflow.concurrency_limit:
                return False
            earlier = siblings.filter(status=Status.QUEUED, pk__lt=execution.pk).exists()
            if earlier:
                return False  # first come, first served
        if workflow.rate_limit_per_minute:
            since = timezone.now() - timedelta(minutes=1)
            started = siblings.filter(started_at__gte=since).count()
            if started >= workflow.rate_limit_per_minute:
                return False
    now = timezone.now()
    execution.status, execution.started_at = Status.RUNNING, now
    execution.deadline = now + timedelta(seconds=workflow.timeout_seconds)
    statements.update_execution(execution.pk, status=Status.RUNNING, started_at=now, deadline=execution.deadline)
    return True


def advance(execution_id: int, *, claim: bool = False) -> Next:
    """Move the execution forward (see the module's docstring). With ``claim``, the first step run
    it queues comes back leased to this worker, to be run inline."""
    with transaction.atomic():
        execution = _lock(execution_id)
        if execution is None:
            return Next()
        return _advance_locked(execution, claim=claim)


def _advance_locked(
    execution: WorkflowExecution, *, claim: bool = False, known: dict[int, dict[str, Any]] | None = None
) -> Next:
    """``advance`` inside the transaction that locked ``execution``; ``known``: outputs of step
    runs the caller has just recorded (saves reading them back)."""
    if execution.is_finished:
        return Next()
    if execution.status == Status.QUEUED and not _admit(execution):
        return Next()
    if execution.deadline and timezone.now() >= execution.deadline:
        _finish(execution, Status.TIMED_OUT, error={"code": errors.WALL_TIME, "message": "the execution timed out"})
        return Next()
    definition = plan_of(execution)
    rows = statements.step_rows(execution.pk)
    states = _states(definition, rows)
    if _stopped_by_failure(execution, definition, states):
        return Next()
    context = _Context(execution, definition, states, known=known)
    queued: list[int] = []
    claimed: StepRun | None = None
    progressed = True
    while progressed:  # a skipped step can settle what depends on it in the same pass
        progressed = False
        for step in definition.steps:
            decision = "wait" if states[step.id].status is not None else _decide(step, definition, states)
            if decision == "wait":
                continue
            progressed = True
            lease_to = worker_id() if claim and claimed is None else ""
            new_rows = _start_step(execution, step, context, skip=decision == "skip", lease_to=lease_to)
            rows += [{name: getattr(row, name) for name in statements.LIGHT_FIELDS} for row in new_rows]
            if lease_to and new_rows and new_rows[0].status == StepStatus.RUNNING:
                claimed = new_rows[0]
                claimed.execution = execution
            queued += [row.pk for row in new_rows if row.status == StepStatus.QUEUED]
            states = context.states = _states(definition, rows)
    if _stopped_by_failure(execution, definition, states):
        return Next()
    queued += _promote_pending(definition, states)
    if all(state.settled for state in states.values()):
        _complete(execution, definition, context)
        return Next()
    announce(execution)
    return Next(claimed=claimed, others=queued)


def _claim(row: StepRun, execution: WorkflowExecution, step: Step, *, waiting_as: str = StepStatus.QUEUED) -> bool:
    """Lease a step run (queued, or pending for a ``for_each`` slot) to this worker: a conditional
    update, so only one worker wins."""
    now = timezone.now()
    fields = {
        "status": StepStatus.RUNNING,
        "lease_owner": worker_id(),
        "lease_expires_at": now + timedelta(seconds=_lease_seconds(execution, step)),
        "started_at": now,
    }
    if not StepRun.objects.filter(pk=row.pk, status=waiting_as).update(**fields):
        return False
    for name, value in fields.items():
        setattr(row, name, value)
    row.execution = execution
    return True


def _stopped_by_failure(execution: WorkflowExecution, definition: Definition, states: dict[str, StepState]) -> bool:
    """Fail the execution when a step with ``on_error: fail`` failed for good."""
    for step in definition.steps:
        state = states[step.id]
        if _failed(state) and step.on_error == "fail":
            error = {**(_first_error(state) or {"code": errors.EXECUTION_FAILED, "message": "the step failed"})}
            error["step"] = step.id
            _finish(execution, Status.FAILED, error=error)
            return True
    return False


def _decide(step: Step, definition: Definition, states: dict[str, StepState]) -> str:
    """``wait``, ``skip`` or ``run`` for a step that has not started."""
    needs = [d for d in definition.dependencies[step.id] if d in states]
    if any(not states[d].settled for d in needs):
        return "wait"
    failing = definition.handlers.get(step.id)
    if failing is not None:  # an error handler runs only when its step failed
        return "run" if _failed(states[failing]) else "skip"
    blocked = 0
    for dependency in needs:
        state, source = states[dependency], definition.by_id[dependency]
        if state.status == StepStatus.SKIPPED or (_failed(state) and source.handler):
            blocked += 1
    return "skip" if needs and blocked == len(needs) else "run"


def _idempotency_key(execution: WorkflowExecution, step: Step, item: int) -> str:
    return f"wf{execution.pk}-{step.id}-{item}"


def _start_step(
    execution: WorkflowExecution, step: Step, context: _Context, *, skip: bool, lease_to: str = ""
) -> list[StepRun]:
    """Record the step's first attempt (one per item for ``for_each``, the first ``parallelism``
    of them queued, the rest pending); returns the rows created. With ``lease_to``, the first row
    is created already running, leased to that worker (it runs it inline)."""
    now = timezone.now()
    key = _idempotency_key(execution, step, 0)
    done = {"execution": execution, "step": step.id, "idempotency_key": key, "started_at": now, "finished_at": now}
    if skip:
        return [StepRun.objects.create(**done, status=StepStatus.SKIPPED)]
    context.load(d for d in context.definition.dependencies[step.id] if d in context.states)
    names = context.names()
    assert step.version_id is not None  # plans always resolve versions
    try:
        declared = _implementation(step.version_id).inputs
    except ComponentVersion.DoesNotExist:
        gone = {"code": errors.UNKNOWN_ID, "message": f"component {step.component} was deleted"}
        return [StepRun.objects.create(**done, status=StepStatus.FAILED, error=gone)]
    try:
        if step.run_if and not truthy(step.run_if, names):
            return [StepRun.objects.create(**done, status=StepStatus.SKIPPED)]
        items: list[Any] | None = None
        if step.for_each:
            source = step.for_each if "{{" in step.for_each else "{{ " + step.for_each + " }}"
            items = evaluate(source, names)
            if not isinstance(items, list):
                raise TemplateProblem(f"for_each must give a list, not {type(items).__name__}")
        scopes = [names] if items is None else [{**names, "item": v, "item_index": i} for i, v in enumerate(items)]
        # Checked when the definition is, and again here: a plan made before that rule must not
        # let data (a webhook's body, a step's output) choose the credential the host sends.
        refused = secret_bindings_refused(step.id, step.inputs, declared, context.definition.inputs)
        if refused:
            error = {"code": errors.NOT_ALLOWED, "message": f"the workflow has problems: {refused}"}
            return [StepRun.objects.create(**done, status=StepStatus.FAILED, error=error)]
        inputs = [coerce_inputs(declared, evaluate(step.inputs, scope)) for scope in scopes]
    except TemplateProblem as problem:
        error = {"code": BAD_BINDING, "message": f"binding: {problem}"}
        return [StepRun.objects.create(**done, status=StepStatus.FAILED, error=error)]
    except RunError as problem:
        return [StepRun.objects.create(**done, status=StepStatus.FAILED, error=problem.as_dict())]
    if not inputs:  # for_each over an empty list
        return [StepRun.objects.create(**done, items=0, status=StepStatus.SUCCEEDED)]
    parallel = step.parallelism if items is not None else 1
    created = [
        StepRun(
            execution=execution,
            step=step.id,
            item=index,
            items=len(inputs),
            status=StepStatus.QUEUED if index < parallel else StepStatus.PENDING,
            next_attempt_at=now if index < parallel else None,
            idempotency_key=_idempotency_key(execution, step, index),
            inputs=value,
        )
        for index, value in enumerate(inputs)
    ]
    if lease_to:
        first = created[0]
        first.status, first.lease_owner, first.started_at = StepStatus.RUNNING, lease_to, now
        first.lease_expires_at = now + timedelta(seconds=_lease_seconds(execution, step))
        first.next_attempt_at = None
    created = StepRun.objects.bulk_create(created)
    if created and created[0].pk is None:  # a backend that does not return ids from bulk inserts
        created = list(StepRun.objects.filter(execution=execution, step=step.id, attempt=1).order_by("item"))
    return created


def _promote_pending(definition: Definition, states: dict[str, StepState]) -> list[int]:
    """Queue ``for_each`` items waiting for a slot, up to each step's parallelism."""
    promoted: list[int] = []
    for step in definition.steps:
        state = states[step.id]
        if not step.for_each or state.status != StepStatus.RUNNING:
            continue
        rows = state.rows.values()
        busy = sum(1 for row in rows if row["status"] in (StepStatus.QUEUED, StepStatus.RUNNING, StepStatus.WAITING))
        pending = sorted(row["id"] for row in rows if row["status"] == StepStatus.PENDING)
        chosen = pending[: max(step.parallelism - busy, 0)]
        if chosen:
            StepRun.objects.filter(pk__in=chosen, status=StepStatus.PENDING).update(
                status=StepStatus.QUEUED, next_attempt_at=timezone.now()
            )
            promoted += chosen
    return promoted


def _complete(execution: WorkflowExecution, definition: Definition, context: _Context) -> None:
    """Every step settled: map the outputs and finish."""
    sources = definition.output_sources
    context.load(definition.by_id if sources is None else sources & definition.by_id.keys())
    names = context.names()
    outputs: dict[str, Any] = {}
    specs = []
    try:
        for output in definition.outputs:
            outputs[output.name] = evaluate(output.value, names)
            if output.type:
                spec = {"name": output.name, "type": output.type, "optional": output.optional}
                if output.subtype:
                    spec["subtype"] = output.subtype
                specs.append(spec)
        outputs = check_outputs(specs, outputs)
    except TemplateProblem as problem:
        _finish(execution, Status.FAILED, error={"code": errors.INCORRECT_OUTPUT, "message": f"outputs: {problem}"})
        return
    except RunError as error:
        _finish(execution, Status.FAILED, error=error.as_dict())
        return
    _finish(execution, Status.SUCCEEDED, outputs=outputs, settled=True)


def _finish(
    execution: WorkflowExecution,
    status: str,
    *,
    outputs: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
    settled: bool = False,
) -> None:
    """Record the end of the execution, stop its step runs that have not finished (none has when
    every step is ``settled``), bound what is stored, and wake whoever waits for it or for a slot
    (after commit)."""
    now = timezone.now()
    started = execution.started_at or now
    execution.status, execution.outputs, execution.error = status, outputs or {}, error
    execution.finished_at = now
    execution.duration_ms = round((now - started).total_seconds() * 1000, 3)
    statements.update_execution(
        execution.pk,
        status=status,
        outputs=execution.outputs,
        error=error,
        started_at=started,
        finished_at=now,
        duration_ms=execution.duration_ms,
    )
    if not settled:
        StepRun.objects.filter(execution=execution, status__in=ACTIVE).update(
            status=StepStatus.CANCELLED, finished_at=now, lease_owner=""
        )
    from workflows.storage import bound_payloads

    bound_payloads(execution)
    announce(execution)
    message = answer_message(execution)
    workflow = execution.workflow
    limited = bool(workflow.concurrency_limit or workflow.rate_limit_per_minute)
    transaction.on_commit(
        lambda: _after_finish(execution.pk, execution.workflow_id, message, limited=limited), robust=True
    )


# What a synchronous caller is answered from (the rest of a finished row is not read again).
ANSWER_FIELDS = ("status", "outputs", "error", "finished_at", "duration_ms")


def answer_message(execution: WorkflowExecution) -> bytes:
    """What a synchronous caller is answered from, for the notification that the execution ended
    (``runs.execution_await``): one too long for a notification is read from the row instead."""
    answer = {name: getattr(execution, name) for name in ANSWER_FIELDS}
    return json.dumps(answer, cls=DjangoJSONEncoder, separators=(",", ":")).encode()


def read_answer(message: bytes) -> dict[str, Any] | None:
    """The fields of ``answer_message``, or None for a message that is not one (a bare wake-up)."""
    try:
        answer = json.loads(message)
    except ValueError:
        return None
    if not isinstance(answer, dict) or answer.get("status") not in FINISHED or set(answer) != set(ANSWER_FIELDS):
        return None
    answer["finished_at"] = parse_datetime(answer["finished_at"]) if answer["finished_at"] else None
    return answer


def _after_finish(execution_id: int, workflow_id: int, message: bytes = b"1", *, limited: bool = True) -> None:
    """Wake whoever waits for the execution, and the next execution of a workflow with limits
    (``limited``) that waits for a slot."""
    from workflows.tasks import advance_execution

    notify_finished(execution_id, message)
    if not limited:
        return  # no execution of this workflow waits for a slot: each has its own advance message
    waiting = (
        WorkflowExecution.objects.filter(workflow_id=workflow_id, status=Status.QUEUED)
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )
    if waiting is not None:
        advance_execution.delay(waiting)


def notify_finished(execution_id: int, message: bytes = b"1") -> None:
    from synchronise.lib import waits

    waits.notify(finished_key(execution_id), message)


def finished_key(execution_id: int) -> str:
    from synchronise.lib import waits

    return waits.key_for("workflow-execution", execution_id)


# --- Running a step ---------------------------------------------------------------------------


def _lease_seconds(execution: WorkflowExecution, step: Step) -> float:
    """How long an attempt may hold its lease: the longest it can legitimately run, plus a grace.
    Code runs within the sandbox limits (the plan's wall time, tightened by the step's timeout;
    ``ctx.http`` calls are cut at that deadline); an ``http`` component within its request timeout."""
    grace = _setting("WORKFLOW_LEASE_GRACE_SECONDS", 10)
    try:
        kind = _implementation(step.version_id).kind if step.version_id is not None else None
    except ComponentVersion.DoesNotExist:
        kind = None  # fails at once when run
    if kind == Kind.HTTP:
        return http_timeout(step.timeout) + grace
    return _limits(execution, step).wall_seconds + grace


def run_step(step_run_id: int) -> Next:
    """Claim one queued step run and run it (``run_claimed``); nothing if another worker has it."""
    row = StepRun.objects.select_related("execution").filter(pk=step_run_id).first()
    if row is None or row.status != StepStatus.QUEUED:
        return Next()
    if not _claim(row, row.execution, plan_of(row.execution).by_id[row.step]):
        return Next()
    return run_claimed(row)


def release(row: StepRun) -> bool:
    """Give a step run leased to this worker back to the queue (it has not started)."""
    return bool(
        StepRun.objects.filter(pk=row.pk, status=StepStatus.RUNNING, lease_owner=row.lease_owner).update(
            status=StepStatus.QUEUED,
            lease_owner="",
            lease_expires_at=None,
            started_at=None,
            next_attempt_at=timezone.now(),
        )
    )


def _limits(execution: WorkflowExecution, step: Step) -> Any:
    """The sandbox limits for a step: the plan's (cached per project), tightened by its timeout."""
    from components.code_runner import limits_for

    limits = _cached("limits", execution.project_id, lambda: limits_for(_project(execution.project_id)))
    if step.timeout is not None and step.timeout < limits.wall_seconds:
        limits = dataclasses.replace(limits, wall_seconds=step.timeout)
    return limits


def _project(project_id: int) -> Any:
    from accounts.models import Project

    return _cached("project", project_id, lambda: Project.objects.get(pk=project_id))


def run_claimed(row: StepRun, *, credentials: dict[int, Any] | None = None) -> Next:
    """Run a step run leased to this worker, then in one transaction record its result (and a
    retry, if the policy says so) and advance the execution; returns what to run next.

    ``credentials``: the project credentials read by earlier steps of the same chain (by project
    id), reused and filled in, so a chain of steps run inline reads them once, not once a step."""
    execution = row.execution
    step = plan_of(execution).by_id[row.step]
    started = time.perf_counter()
    invocation: Invocation | None = None
    outputs: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    try:
        assert step.version_id is not None  # plans always resolve versions
        invocation = Invocation(
            project=_project(execution.project_id),
            implementation=_implementation(step.version_id),
            inputs=row.inputs,
            idempotency_key=row.idempotency_key,
            wall_seconds=step.timeout,
            limits=_limits(execution, step),
            secrets=credentials.get(execution.project_id) if credentials is not None else None,
        )
        outputs = invoke(invocation)
    except ComponentVersion.DoesNotExist:
        error = {"code": errors.UNKNOWN_ID, "message": f"component {step.component} was deleted"}
    except RunError as failure:
        error = failure.as_dict()
    except Exception:  # a bug of ours must not leave the step running until its lease expires
        logger.exception("step run %s failed unexpectedly", row.pk)
        error = {"code": errors.EXECUTION_FAILED, "message": "the step failed unexpectedly"}
    duration = round((time.perf_counter() - started) * 1000, 3)
    if credentials is not None and invocation is not None and invocation.secrets is not None:
        credentials[execution.project_id] = invocation.secrets
    with transaction.atomic():
        locked = _lock(execution.pk)  # serialise with advances and cancels of the same execution
        status = StepStatus.SUCCEEDED
        if error is not None:
            status = StepStatus.TIMED_OUT if error.get("code") == errors.WALL_TIME else StepStatus.FAILED
        recorded = statements.record_result(
            row.pk,
            held_by=row.lease_owner,
            status=status,
            outputs=outputs or {},
            error=error,
            logs=invocation.logs if invocation else [],
            finished_at=timezone.now(),
            duration_ms=duration,
        )
        if not recorded or locked is None:  # cancelled, timed out or reclaimed meanwhile: dropped
            return Next()
        retried = _retry(row, step, error) if error is not None else []
        following = _item_fast_path(locked, row, step, claim=not retried)
        if following is None:
            following = _advance_locked(locked, claim=not retried, known={row.pk: outputs or {}})
        return Next(claimed=following.claimed, others=retried + following.others)


def _item_fast_path(execution: WorkflowExecution, row: StepRun, step: Step, *, claim: bool) -> Next | None:
    """After one item of a ``for_each`` step, while others are still in flight, nothing but that
    step's pending items can move (no other step depends on an unsettled one): queue them up to
    the parallelism, leasing one to this worker, without reading every step run. ``None`` when the
    step may be settled, and the full advance must look."""
    if row.items <= 1:
        return None
    unfinished = dict(
        StepRun.objects.filter(execution=execution, step=row.step)
        .exclude(status__in=STEP_DONE)
        .values_list("status")
        .annotate(count=Count("id"))
    )
    if not unfinished:
        return None
    busy = sum(count for status, count in unfinished.items() if status != StepStatus.PENDING)
    free = step.parallelism - busy
    following = Next()
    if unfinished.get(StepStatus.PENDING) and free > 0:
        chosen = list(
            StepRun.objects.filter(execution=execution, step=row.step, status=StepStatus.PENDING).order_by("item")[
                :free
            ]
        )
        if claim and chosen:
            first = chosen.pop(0)
            if _claim(first, execution, step, waiting_as=StepStatus.PENDING):
                following.claimed = first
        if chosen:
            StepRun.objects.filter(pk__in=[c.pk for c in chosen], status=StepStatus.PENDING).update(
                status=StepStatus.QUEUED, next_attempt_at=timezone.now()
            )
            following.others = [c.pk for c in chosen]
    announce(execution)
    return following


def retry_delay(policy: Retry, tried: int, error: dict[str, Any]) -> float:
    """Seconds before the next attempt after ``tried`` answered attempts: exponential backoff capped
    at ``max_delay``, with jitter (a random point in its upper half), and never sooner than the
    ``retry_after`` the failure asked for (``Retry-After``), itself capped at ``max_delay``."""
    delay = min(policy.backoff * policy.factor ** (tried - 1), policy.max_delay)
    if policy.jitter:
        delay = random.uniform(delay / 2, delay)  # noqa: S311 - spreading retries, not cryptography
    retry_after = error.get("retry_after")
    if isinstance(retry_after, int | float) and not isinstance(retry_after, bool) and retry_after > 0:
        delay = max(delay, min(float(retry_after), policy.max_delay or float(retry_after)))
    return delay


def _retry(row: StepRun, step: Step, error: dict[str, Any], *, interrupted: bool = False) -> list[int]:
    """Schedule the next attempt of a failed step run if its policy allows; returns it if due now."""
    policy = step.retry
    tried = row.attempt - row.interruptions  # attempts that ran to an answer: a lost worker's do not count
    if interrupted:
        if row.interruptions + 1 >= MAX_INTERRUPTIONS:
            return []
    elif tried >= policy.attempts or error.get("code") not in policy.on_codes:
        return []
    delay = 0.0 if interrupted else retry_delay(policy, tried, error)
    due = timezone.now() + timedelta(seconds=delay)
    status = StepStatus.QUEUED if delay <= 0 else StepStatus.WAITING
    nxt = StepRun.objects.create(
        execution_id=row.execution_id,
        step=row.step,
        item=row.item,
        items=row.items,
        attempt=row.attempt + 1,
        status=status,
        next_attempt_at=due,
        idempotency_key=row.idempotency_key,
        interruptions=row.interruptions + (1 if interrupted else 0),
        inputs=row.inputs,
    )
    return [nxt.pk] if status == StepStatus.QUEUED else []


# --- Cancelling -------------------------------------------------------------------------------


def cancel(execution_id: int, *, status: str = Status.CANCELLED, message: str = "cancelled") -> bool:
    """Stop the execution now, whatever its steps are doing; their late results are dropped.
    Returns whether it was still running."""
    with transaction.atomic():
        execution = _lock(execution_id)
        if execution is None or execution.is_finished:
            return False
        code = errors.WALL_TIME if status == Status.TIMED_OUT else errors.EXECUTION_FAILED
        _finish(execution, status, error={"code": code, "message": message})
        return True


# --- Periodic repair --------------------------------------------------------------------------


@dataclass
class TickReport:
    reclaimed: int = 0
    retried: int = 0
    resent: int = 0
    timed_out: int = 0
    admitted: int = 0
    dispatch: list[int] = field(default_factory=list)


def tick(*, messages_queued: int = 0) -> TickReport:
    """One pass of repairs (see the module's docstring); returns what it did and what to dispatch.
    ``messages_queued``: how many messages wait in the steps' queue (``tasks.tick`` asks the broker)."""
    report = TickReport()
    now = timezone.now()
    for row in StepRun.objects.filter(status=StepStatus.RUNNING, lease_expires_at__lt=now).select_related("execution")[
        :500
    ]:
        report.dispatch += _reclaim(row)
        report.reclaimed += 1
    due = list(
        StepRun.objects.filter(status=StepStatus.WAITING, next_attempt_at__lte=now).values_list("pk", flat=True)[:1000]
    )
    if due:
        report.retried = StepRun.objects.filter(pk__in=due, status=StepStatus.WAITING).update(
            status=StepStatus.QUEUED, next_attempt_at=now
        )
        report.dispatch += due
    stale = now - timedelta(seconds=_setting("WORKFLOW_RESEND_SECONDS", 30))
    stale_rows = StepRun.objects.filter(status=StepStatus.QUEUED, next_attempt_at__lt=stale)
    lost = list(stale_rows.order_by("next_attempt_at").values_list("pk", flat=True)[:1000])
    # A queued step nobody took for a while may have lost its message, or be waiting behind a
    # backlog. Only as many as there are such steps beyond the messages waiting can be lost (the
    # oldest are sent again): re-sending every one behind a backlog would add a copy of each
    # waiting step every period, each a no-op broker hop when its turn comes.
    lost = lost[: max(len(lost) - messages_queued, 0)]
    if lost:
        StepRun.objects.filter(pk__in=lost, status=StepStatus.QUEUED).update(next_attempt_at=now)
        report.resent = len(lost)
        report.dispatch += lost
    for execution_id in WorkflowExecution.objects.filter(status=Status.RUNNING, deadline__lt=now).values_list(
        "pk", flat=True
    )[:500]:
        report.timed_out += cancel(execution_id, status=Status.TIMED_OUT, message="the execution timed out")
    waiting = list(WorkflowExecution.objects.filter(status=Status.QUEUED).values_list("pk", flat=True)[:500])
    for execution_id in waiting:
        report.dispatch += advance(execution_id).others
    if waiting:
        report.admitted = WorkflowExecution.objects.filter(pk__in=waiting).exclude(status=Status.QUEUED).count()
    return report


def _reclaim(row: StepRun) -> list[int]:
    """A step run whose lease expired: its worker died or hung. Record the attempt as lost and
    queue the next one with the same idempotency key."""
    with transaction.atomic():
        execution = _lock(row.execution_id)
        error = {"code": WORKER_LOST, "message": f"the worker running this step was lost ({row.lease_owner})"}
        lost = StepRun.objects.filter(pk=row.pk, status=StepStatus.RUNNING, lease_owner=row.lease_owner).update(
            status=StepStatus.FAILED, error=error, finished_at=timezone.now(), lease_owner=""
        )
        if not lost or execution is None or execution.is_finished:
            return []
        step = plan_of(execution).by_id[row.step]
        queued = _retry(row, step, error, interrupted=True)
        return queued + _advance_locked(execution).others
