"""The per-step path's three hottest statements, compiled once per process.

Every step of every execution locks its execution, records its result and reads the execution's
step runs. Building and compiling those querysets cost more Python than running them: py-spy on a
worker running 40-step chains found 40 % of its time in the ORM's query building and SQL
compilation. Here the SQL is made once per database vendor — by the ORM itself for the two reads,
from the model's own table and column names for the update — and values go through the fields' own
``get_db_prep_save`` and ``from_db_value``, so what reaches the database is what the ORM would send.
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import F, Q, TextField
from django.db.models.functions import Cast, Length

from synchronise.lib.compiled import compiled, select_rows, select_sql
from workflows.models import StepRun, StepStatus, Workflow, WorkflowExecution

# What the engine reads of an execution's workflow: its limits (``engine._admit``, ``_after_finish``,
# ``storage.bound_payloads``).
WORKFLOW_FIELDS = ("concurrency_limit", "rate_limit_per_minute", "timeout_seconds", "max_payload_bytes")
LIGHT_FIELDS = ("id", "step", "item", "items", "attempt", "status", "error")
RESULT_FIELDS = ("status", "outputs", "error", "logs", "finished_at", "duration_ms", "lease_owner", "lease_expires_at")


def _field(name: str) -> Any:
    return StepRun._meta.get_field(name)


def _execution_field(name: str) -> Any:
    return WorkflowExecution._meta.get_field(name)


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
    """``UPDATE`` the execution's fields named in ``values`` (one statement per set of names,
    compiled once; the values prepared by the fields as ``QuerySet.update`` prepares them)."""
    names = sorted(values)

    def make() -> str:
        quote = connection.ops.quote_name
        columns = ", ".join(f"{quote(_execution_field(name).column)} = %s" for name in names)
        return f"UPDATE {quote(WorkflowExecution._meta.db_table)} SET {columns} WHERE {quote('id')} = %s"  # noqa: S608

    sql = compiled("execution:" + ",".join(names), make)
    fields = [_execution_field(name) for name in names]
    parameters = [field.get_db_prep_save(values[field.name], connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*parameters, execution_id])


def step_rows(execution_id: int) -> list[dict[str, Any]]:
    """``LIGHT_FIELDS`` of every step run of the execution, in creation order."""
    sql = compiled(
        "rows", lambda: select_sql(StepRun.objects.filter(execution_id=0).order_by("id").values(*LIGHT_FIELDS))
    )
    error = _field("error")
    with connection.cursor() as cursor:
        cursor.execute(sql, [execution_id])
        rows = cursor.fetchall()
    return [
        {**dict(zip(LIGHT_FIELDS, row, strict=True)), "error": error.from_db_value(row[-1], None, connection)}
        for row in rows
    ]


def oversized_step_runs(execution_id: int, characters: int) -> list[int]:
    """The step runs of the execution whose inputs, outputs or logs, as the database stores them,
    are longer than ``characters`` characters."""

    def make() -> str:
        lengths = {f"_{name}": Length(Cast(name, TextField())) for name in ("inputs", "outputs", "logs")}
        longer = Q(_inputs__gt=-2) | Q(_outputs__gt=-2) | Q(_logs__gt=-2)
        queryset = StepRun.objects.filter(execution_id=-1).annotate(**lengths).filter(longer).order_by()
        return select_sql(queryset.values_list("id", flat=True), [-1, -2, -2, -2])  # the execution, the lengths

    with connection.cursor() as cursor:
        cursor.execute(compiled("oversized", make), [execution_id, characters, characters, characters])
        return [row[0] for row in cursor.fetchall()]


def record_result(step_run_id: int, *, held_by: str, **values: Any) -> bool:
    """Write a step run's result (every field of ``RESULT_FIELDS`` but the lease, which it clears)
    if it is still running under the lease of ``held_by``; whether it was."""
    values = {**values, "lease_owner": "", "lease_expires_at": None}
    if set(values) != set(RESULT_FIELDS):
        raise ValueError(f"a result sets exactly {', '.join(RESULT_FIELDS)}")

    def make() -> str:
        quote = connection.ops.quote_name
        columns = ", ".join(f"{quote(_field(name).column)} = %s" for name in RESULT_FIELDS)
        return (
            f"UPDATE {quote(StepRun._meta.db_table)} SET {columns} "  # noqa: S608 - names from the model
            f"WHERE {quote('id')} = %s AND {quote('status')} = %s AND {quote('lease_owner')} = %s"
        )

    sql = compiled("record", make)
    parameters = [_field(name).get_db_prep_save(values[name], connection) for name in RESULT_FIELDS]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*parameters, step_run_id, StepStatus.RUNNING.value, held_by])
        return bool(cursor.rowcount)
