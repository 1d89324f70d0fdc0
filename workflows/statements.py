"""The engine's hottest statements, compiled once per process (``synchronise/lib/compiled.py``).

Every step of every execution locks its execution, records its result and reads the execution's
step runs; every execution is admitted and finished. Building and compiling those querysets cost
more Python than running them: py-spy on a worker running 40-step chains found 40 % of its time in
the ORM's query building and SQL compilation. Here the SQL is made once per database vendor — by
the ORM itself for the reads, from the model's own table and column names for the updates — and
values go through the fields' own converters, so what reaches the database is what the ORM would
send.
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import F, Q, TextField
from django.db.models.functions import Cast, Length

from synchronise.lib.compiled import select_rows, update_rows
from workflows.models import StepRun, StepStatus, Workflow, WorkflowExecution

# What the engine reads of an execution's workflow: its limits (``engine._admit``, ``_after_finish``,
# ``storage.bound_payloads``).
WORKFLOW_FIELDS = ("concurrency_limit", "rate_limit_per_minute", "timeout_seconds", "max_payload_bytes")
LIGHT_FIELDS = ("id", "step", "item", "items", "attempt", "status", "error")
RESULT_FIELDS = ("status", "outputs", "error", "logs", "finished_at", "duration_ms", "lease_owner", "lease_expires_at")


def lock_execution(execution_id: int) -> WorkflowExecution | None:
    """The execution without its plan, locked until the end of the transaction (``SELECT … FOR
    UPDATE OF`` the execution's row where the database has it; SQLite's write transactions are
    exclusive anyway), with its workflow's ``WORKFLOW_FIELDS`` read in the same statement (the
    workflow's other fields are deferred: read at need)."""

    def make() -> Any:
        queryset = WorkflowExecution.objects.select_for_update(of=("self",)).filter(pk=0).defer("plan").order_by()
        return queryset.annotate(**{f"_workflow_{name}": F(f"workflow__{name}") for name in WORKFLOW_FIELDS})

    rows = select_rows("lock", make, [0], [execution_id])
    if not rows:
        return None
    row = rows[0]
    if len(row) != len(_LOCKED_FIELDS) + len(WORKFLOW_FIELDS):
        raise AssertionError(f"the lock read {len(row)} columns")
    execution = WorkflowExecution.from_db(connection.alias, _LOCKED_FIELDS, row[: len(_LOCKED_FIELDS)])
    values = [execution.workflow_id, *row[len(_LOCKED_FIELDS) :]]
    execution.workflow = Workflow.from_db(connection.alias, ["id", *WORKFLOW_FIELDS], values)
    return execution


_LOCKED_FIELDS = [field.attname for field in WorkflowExecution._meta.concrete_fields if field.name != "plan"]


def update_execution(execution_id: int, **values: Any) -> None:
    """``UPDATE`` the execution's fields named in ``values``."""
    update_rows("execution", WorkflowExecution, values, ["id"], [execution_id])


def step_rows(execution_id: int) -> list[dict[str, Any]]:
    """``LIGHT_FIELDS`` of every step run of the execution, in creation order."""
    rows = select_rows(
        "rows", lambda: StepRun.objects.filter(execution_id=0).order_by("id").values(*LIGHT_FIELDS), [0], [execution_id]
    )
    return [dict(zip(LIGHT_FIELDS, row, strict=True)) for row in rows]


def oversized_step_runs(execution_id: int, characters: int) -> list[int]:
    """The step runs of the execution whose inputs, outputs or logs, as the database stores them,
    are longer than ``characters`` characters."""

    def make() -> Any:
        lengths = {f"_{name}": Length(Cast(name, TextField())) for name in ("inputs", "outputs", "logs")}
        longer = Q(_inputs__gt=-2) | Q(_outputs__gt=-2) | Q(_logs__gt=-2)
        return StepRun.objects.filter(execution_id=-1).annotate(**lengths).filter(longer).order_by().values_list("id")

    sentinels = [-1, -2, -2, -2]  # the execution, then the length three times
    rows = select_rows("oversized", make, sentinels, [execution_id, characters, characters, characters])
    return [row[0] for row in rows]


def record_result(step_run_id: int, *, held_by: str, **values: Any) -> bool:
    """Write a step run's result (every field of ``RESULT_FIELDS`` but the lease, which it clears)
    if it is still running under the lease of ``held_by``; whether it was."""
    values = {**values, "lease_owner": "", "lease_expires_at": None}
    if set(values) != set(RESULT_FIELDS):
        raise ValueError(f"a result sets exactly {', '.join(RESULT_FIELDS)}")

    where = ["id", "status", "lease_owner"]
    return bool(update_rows("record", StepRun, values, where, [step_run_id, StepStatus.RUNNING.value, held_by]))
