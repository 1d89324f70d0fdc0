"""The workflow engine end to end: real Celery workers (two, one running beat) on the test
database and broker, code components in the sandbox, a loopback API standing in for third parties."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import pytest

from tests import fake_api, servers
from tests.factories import make_component, make_workflow
from workflows import runs
from workflows.models import Status, StepRun, StepStatus, WorkflowExecution

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]

ADD = """
def run(inputs, ctx):
    ctx.log(f"adding {inputs['a']} and {inputs['b']}")
    return {"sum": inputs["a"] + inputs["b"]}
"""
NUMBER = {"type": "number", "subtype": "integer"}


@pytest.fixture(scope="module")
def third_party() -> Iterator[fake_api.FakeApi]:
    with fake_api.serve() as server:
        yield server


@pytest.fixture(scope="module")
def workers(django_db_setup, django_db_blocker, third_party) -> Iterator[None]:  # type: ignore[no-untyped-def]
    env = {"OUTBOUND_ALLOW": third_party.destination, "WORKFLOW_LEASE_GRACE_SECONDS": "2"}
    with (
        django_db_blocker.unblock(),
        servers.celery_worker(beat=True, name="one", **env),
        servers.celery_worker(name="two", **env),
    ):
        yield


@pytest.fixture
def adder(alice, project):  # type: ignore[no-untyped-def]
    return make_component(
        project=project,
        actor=alice,
        name="Add",
        code=ADD,
        inputs=[{"name": "a", **NUMBER}, {"name": "b", **NUMBER}],
        outputs=[{"name": "sum", **NUMBER}],
    )


def wait(execution: WorkflowExecution, timeout: float = 30) -> WorkflowExecution:
    return runs.execution_wait(execution, timeout=timeout)


def test_workers_keep_their_database_connection_from_task_to_task(workers, alice, project, adder) -> None:  # type: ignore[no-untyped-def]
    """Celery closes the connection around every task unless told not to (synchronise/celery.py):
    on PostgreSQL that is a new server process per task. Counted by the server's own statistics."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("counts PostgreSQL sessions")
    workflow = make_workflow(
        project=project,
        actor=alice,
        steps=[{"id": "one", "component": adder.pk, "inputs": {"a": 1, "b": 2}}],
        outputs=[{"name": "sum", "value": "{{ steps.one.output.sum }}", **NUMBER}],
    )

    def sessions() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
            return int(cursor.fetchone()[0])

    warm_up = [runs.execution_start(workflow=workflow, inputs={}, user=alice) for _ in range(4)]
    assert all(wait(execution).status == Status.SUCCEEDED for execution in warm_up)
    before = sessions()
    for _ in range(10):
        assert wait(runs.execution_start(workflow=workflow, inputs={}, user=alice)).status == Status.SUCCEEDED
    time.sleep(1.5)  # a backend's statistics reach the others within a second
    assert sessions() - before < 5  # one per task (10 or more) before the fix


def test_a_linear_workflow_runs_each_step_once_and_maps_outputs(workers, alice, project, adder) -> None:  # type: ignore[no-untyped-def]
    workflow = make_workflow(
        project=project,
        actor=alice,
        inputs=[{"name": "x", **NUMBER}],
        steps=[
            {"id": "one", "component": adder.pk, "inputs": {"a": "{{ input.x }}", "b": 1}},
            {"id": "two", "component": adder.pk, "inputs": {"a": "{{ steps.one.output.sum }}", "b": 10}},
            {"id": "three", "component": adder.pk, "inputs": {"a": "{{ steps.two.output.sum }}", "b": 100}},
        ],
        outputs=[{"name": "total", "value": "{{ steps.three.output.sum }}", **NUMBER}],
    )
    execution = wait(runs.execution_start(workflow=workflow, inputs={"x": "5"}, user=alice))
    assert execution.status == Status.SUCCEEDED, execution.error
    assert execution.outputs == {"total": 116}
    rows = list(StepRun.objects.filter(execution=execution).order_by("id"))
    assert [(r.step, r.attempt, r.status) for r in rows] == [
        ("one", 1, StepStatus.SUCCEEDED),
        ("two", 1, StepStatus.SUCCEEDED),
        ("three", 1, StepStatus.SUCCEEDED),
    ]
    assert rows[1].inputs == {"a": 6, "b": 10}
    assert rows[2].logs == ["adding 16 and 100"]
    assert rows[0].finished_at <= rows[1].started_at  # committed before the next started


SLEEP = """
import time

def run(inputs, ctx):
    time.sleep(inputs["seconds"])
    return {"done": True}
"""
ECHO = """
def run(inputs, ctx):
    return {"value": inputs["value"]}
"""


@pytest.fixture
def sleeper(alice, project):  # type: ignore[no-untyped-def]
    return make_component(
        project=project,
        actor=alice,
        name="Sleep",
        code=SLEEP,
        inputs=[{"name": "seconds", "type": "number"}],
        outputs=[{"name": "done", "type": "bool"}],
    )


@pytest.fixture
def echo(alice, project):  # type: ignore[no-untyped-def]
    return make_component(
        project=project,
        actor=alice,
        name="Echo",
        code=ECHO,
        inputs=[{"name": "value", "type": "json"}],
        outputs=[{"name": "value", "type": "json"}],
    )


def test_independent_branches_run_in_parallel_on_two_workers(workers, alice, project, sleeper, echo) -> None:  # type: ignore[no-untyped-def]
    workflow = make_workflow(
        project=project,
        actor=alice,
        steps=[
            {"id": "left", "component": sleeper.pk, "inputs": {"seconds": 1.5}},
            {"id": "right", "component": sleeper.pk, "inputs": {"seconds": 1.5}},
            {
                "id": "join",
                "component": echo.pk,
                "inputs": {"value": ["{{ steps.left.output.done }}", "{{ steps.right.output.done }}"]},
            },
        ],
        outputs=[{"name": "both", "value": "{{ steps.join.output.value }}"}],
    )
    execution = wait(runs.execution_start(workflow=workflow, inputs={}, user=alice))
    assert execution.status == Status.SUCCEEDED, execution.error
    assert execution.outputs == {"both": [True, True]}
    left, right = (StepRun.objects.get(execution=execution, step=name) for name in ("left", "right"))
    assert left.started_at < right.finished_at
    assert right.started_at < left.finished_at
    assert left.lease_owner == right.lease_owner == ""  # leases released
    join = StepRun.objects.get(execution=execution, step="join")
    assert join.started_at >= max(left.finished_at, right.finished_at)


def test_run_if_skips_a_step_and_what_only_depends_on_it(workers, alice, project, echo) -> None:  # type: ignore[no-untyped-def]
    workflow = make_workflow(
        project=project,
        actor=alice,
        inputs=[{"name": "go", "type": "bool"}],
        steps=[
            {"id": "maybe", "component": echo.pk, "inputs": {"value": 1}, "run_if": "input.go"},
            {"id": "after-maybe", "component": echo.pk, "inputs": {"value": "{{ steps.maybe.output.value }}"}},
            {"id": "always", "component": echo.pk, "inputs": {"value": 2}},
        ],
        outputs=[
            {"name": "maybe", "value": "{{ steps['after-maybe'].output.value }}", "optional": True},
            {"name": "always", "value": "{{ steps.always.output.value }}"},
        ],
    )
    skipped = wait(runs.execution_start(workflow=workflow, inputs={"go": False}, user=alice))
    assert skipped.status == Status.SUCCEEDED, skipped.error
    statuses = dict(StepRun.objects.filter(execution=skipped).values_list("step", "status"))
    assert statuses == {"maybe": "skipped", "after-maybe": "skipped", "always": "succeeded"}
    assert skipped.outputs == {"maybe": None, "always": 2}
    ran = wait(runs.execution_start(workflow=workflow, inputs={"go": True}, user=alice))
    assert ran.outputs == {"maybe": 1, "always": 2}


def test_for_each_runs_per_item_within_the_parallelism_bound_and_keeps_order(workers, alice, project, echo) -> None:  # type: ignore[no-untyped-def]
    workflow = make_workflow(
        project=project,
        actor=alice,
        inputs=[{"name": "items", "type": "list"}],
        steps=[
            {
                "id": "each",
                "component": echo.pk,
                "for_each": "{{ input.items }}",
                "parallelism": 2,
                "inputs": {"value": "{{ item * 10 + item_index }}"},
            },
        ],
        outputs=[{"name": "values", "value": "{{ steps.each.output.value }}"}],
    )
    execution = wait(runs.execution_start(workflow=workflow, inputs={"items": [1, 2, 3, 4, 5]}, user=alice))
    assert execution.status == Status.SUCCEEDED, execution.error
    assert execution.outputs == {"values": [10, 21, 32, 43, 54]}
    rows = list(StepRun.objects.filter(execution=execution).order_by("started_at"))
    assert sorted(r.item for r in rows) == [0, 1, 2, 3, 4]
    assert all(r.items == 5 for r in rows)
    events = sorted([(r.started_at, 1) for r in rows] + [(r.finished_at, -1) for r in rows])
    running, most = 0, 0
    for _, change in events:  # ends sort before starts at the same instant
        running += change
        most = max(most, running)
    assert most <= 2  # never more than two items at once
    empty = wait(runs.execution_start(workflow=workflow, inputs={"items": []}, user=alice))
    assert empty.status == Status.SUCCEEDED
    assert empty.outputs == {"values": []}


@pytest.fixture
def flaky(alice, project, third_party):  # type: ignore[no-untyped-def]
    """An http component calling /flaky/<key>: the first `fail` calls per key fail with `code`."""
    from components import services as component_services

    component = component_services.component_create(
        project=project,
        actor=alice,
        name="Flaky",
        kind="http",
        inputs=[
            {"name": "key", "type": "text"},
            {"name": "fail", "type": "number"},
            {"name": "code", "type": "number"},
        ],
        outputs=[{"name": "count", "type": "number"}],
        http={
            "method": "GET",
            "url": third_party.url("/flaky/{{ inputs.key }}"),
            "query": {"fail": "{{ inputs.fail }}", "code": "{{ inputs.code }}"},
            "outputs": {"count": "body.count"},
            "error_message": "body.error.message",
        },
    )
    component_services.component_publish(component=component, actor=alice)
    return component


def test_a_failing_step_is_retried_with_backoff_and_the_same_idempotency_key(
    workers, alice, project, flaky, third_party
) -> None:  # type: ignore[no-untyped-def]
    retry = {"attempts": 3, "backoff": 0.5, "factor": 2, "jitter": False, "on_codes": [503]}
    workflow = make_workflow(
        project=project,
        actor=alice,
        steps=[{"id": "call", "component": flaky.pk, "inputs": {"key": "k1", "fail": 2, "code": 503}, "retry": retry}],
        outputs=[{"name": "count", "value": "{{ steps.call.output.count }}"}],
    )
    execution = wait(runs.execution_start(workflow=workflow, inputs={}, user=alice))
    assert execution.status == Status.SUCCEEDED, execution.error
    assert execution.outputs == {"count": 3}
    attempts = list(StepRun.objects.filter(execution=execution).order_by("attempt"))
    assert [(a.attempt, a.status) for a in attempts] == [(1, "failed"), (2, "failed"), (3, "succeeded")]
    assert attempts[0].error["code"] == 503
    assert len({a.idempotency_key for a in attempts}) == 1
    keys = [r["headers"].get("Idempotency-Key") for r in third_party.requests if r["path"] == "/flaky/k1"]
    assert keys == [attempts[0].idempotency_key] * 3
    # the backoff: ~0.5 s then ~1 s (scheduled from the database; the tick runs every second)
    assert (attempts[1].started_at - attempts[0].finished_at).total_seconds() >= 0.5
    assert (attempts[2].started_at - attempts[1].finished_at).total_seconds() >= 1.0


def test_a_code_that_is_not_retryable_fails_the_execution_naming_the_step(workers, alice, project, flaky) -> None:  # type: ignore[no-untyped-def]
    retry = {"attempts": 3, "backoff": 0.1, "on_codes": [503]}
    workflow = make_workflow(
        project=project,
        actor=alice,
        steps=[{"id": "call", "component": flaky.pk, "inputs": {"key": "k2", "fail": 5, "code": 400}, "retry": retry}],
    )
    execution = wait(runs.execution_start(workflow=workflow, inputs={}, user=alice))
    assert execution.status == Status.FAILED
    assert execution.error["step"] == "call"
    assert execution.error["code"] == 400
    assert StepRun.objects.filter(execution=execution).count() == 1


def test_on_error_continue_and_an_error_handler_step(workers, alice, project, flaky, echo) -> None:  # type: ignore[no-untyped-def]
    workflow = make_workflow(
        project=project,
        actor=alice,
        steps=[
            {
                "id": "soft",
                "component": flaky.pk,
                "inputs": {"key": "k3", "fail": 9, "code": 400},
                "on_error": "continue",
            },
            {"id": "next", "component": echo.pk, "inputs": {"value": "{{ steps.soft.status }}"}, "after": ["soft"]},
            {
                "id": "hard",
                "component": flaky.pk,
                "inputs": {"key": "k4", "fail": 9, "code": 400},
                "on_error": "rescue",
            },
            {"id": "rescue", "component": echo.pk, "inputs": {"value": "{{ steps.hard.error.message }}"}},
            {"id": "after-hard", "component": echo.pk, "inputs": {"value": "{{ steps.hard.output.count }}"}},
        ],
        outputs=[
            {"name": "next", "value": "{{ steps.next.output.value }}"},
            {"name": "rescued", "value": "{{ steps.rescue.output.value }}", "optional": True},
        ],
    )
    execution = wait(runs.execution_start(workflow=workflow, inputs={}, user=alice))
    assert execution.status == Status.SUCCEEDED, execution.error
    statuses = dict(StepRun.objects.filter(execution=execution).values_list("step", "status"))
    assert statuses == {
        "soft": "failed",
        "next": "succeeded",
        "hard": "failed",
        "rescue": "succeeded",
        "after-hard": "skipped",
    }
    assert execution.outputs == {"next": "failed", "rescued": "call 1 fails"}


def test_a_step_timeout_stops_the_step_and_fails_the_execution(workers, alice, project, sleeper) -> None:  # type: ignore[no-untyped-def]
    workflow = make_workflow(
        project=project,
        actor=alice,
        steps=[{"id": "slow", "component": sleeper.pk, "inputs": {"seconds": 30}, "timeout": 1}],
    )
    execution = wait(runs.execution_start(workflow=workflow, inputs={}, user=alice))
    assert execution.status == Status.FAILED
    assert execution.error["code"] == 109
    assert execution.error["step"] == "slow"
    row = StepRun.objects.get(execution=execution)
    assert row.status == StepStatus.TIMED_OUT
    assert row.duration_ms < 5000


def test_the_execution_timeout_stops_everything(workers, alice, project, sleeper) -> None:  # type: ignore[no-untyped-def]
    workflow = make_workflow(
        project=project,
        actor=alice,
        timeout_seconds=1,
        steps=[{"id": "slow", "component": sleeper.pk, "inputs": {"seconds": 10}}],
    )
    execution = wait(runs.execution_start(workflow=workflow, inputs={}, user=alice), timeout=15)
    assert execution.status == Status.TIMED_OUT
    assert StepRun.objects.get(execution=execution).status == StepStatus.CANCELLED


def test_cancel_works_for_running_and_queued_executions(workers, alice, project, sleeper) -> None:  # type: ignore[no-untyped-def]
    workflow = make_workflow(
        project=project,
        actor=alice,
        concurrency_limit=1,
        steps=[{"id": "slow", "component": sleeper.pk, "inputs": {"seconds": 3}}],
    )
    running = runs.execution_start(workflow=workflow, inputs={}, user=alice)
    queued = runs.execution_start(workflow=workflow, inputs={}, user=alice)
    deadline = time.monotonic() + 10
    while StepRun.objects.filter(execution=running, status=StepStatus.RUNNING).count() == 0:
        assert time.monotonic() < deadline, "the first execution never started its step"
        time.sleep(0.05)
    queued.refresh_from_db()
    assert queued.status == Status.QUEUED  # the concurrency limit holds it back
    assert runs.execution_cancel(execution=queued, actor=alice)
    assert runs.execution_cancel(execution=running, actor=alice)
    running.refresh_from_db()
    queued.refresh_from_db()
    assert running.status == queued.status == Status.CANCELLED
    time.sleep(3.5)  # the sandboxed step ends; its late result must be dropped
    assert StepRun.objects.get(execution=running).status == StepStatus.CANCELLED
    running.refresh_from_db()
    assert running.status == Status.CANCELLED


def test_concurrency_limit_queues_executions_and_runs_them_all(workers, alice, project, sleeper) -> None:  # type: ignore[no-untyped-def]
    workflow = make_workflow(
        project=project,
        actor=alice,
        concurrency_limit=1,
        steps=[{"id": "nap", "component": sleeper.pk, "inputs": {"seconds": 0.3}}],
    )
    started = [runs.execution_start(workflow=workflow, inputs={}, user=alice) for _ in range(4)]
    finished = [wait(execution) for execution in started]
    assert [e.status for e in finished] == [Status.SUCCEEDED] * 4
    spans = sorted((e.started_at, e.finished_at) for e in finished)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end  # one at a time


def test_restart_from_a_step_reuses_earlier_outputs_and_replay_runs_everything(workers, alice, project, adder) -> None:  # type: ignore[no-untyped-def]
    workflow = make_workflow(
        project=project,
        actor=alice,
        steps=[
            {"id": "one", "component": adder.pk, "inputs": {"a": 1, "b": 1}},
            {"id": "two", "component": adder.pk, "inputs": {"a": "{{ steps.one.output.sum }}", "b": 1}},
            {"id": "three", "component": adder.pk, "inputs": {"a": "{{ steps.two.output.sum }}", "b": 1}},
        ],
        outputs=[{"name": "total", "value": "{{ steps.three.output.sum }}"}],
    )
    first = wait(runs.execution_start(workflow=workflow, inputs={}, user=alice))
    restarted = wait(runs.execution_restart(execution=first, step="two", actor=alice))
    assert restarted.status == Status.SUCCEEDED
    assert restarted.outputs == {"total": 4}
    rows = {r.step: r for r in StepRun.objects.filter(execution=restarted)}
    assert rows["one"].reused
    assert not rows["two"].reused
    assert not rows["three"].reused
    assert rows["one"].started_at == StepRun.objects.get(execution=first, step="one").started_at
    replayed = wait(runs.execution_replay(execution=first, actor=alice))
    assert replayed.outputs == {"total": 4}
    assert replayed.source_id == first.pk
    assert not StepRun.objects.filter(execution=replayed, reused=True).exists()


def test_stored_payloads_are_truncated_when_the_execution_ends(workers, alice, project, echo) -> None:  # type: ignore[no-untyped-def]
    workflow = make_workflow(
        project=project,
        actor=alice,
        max_payload_bytes=1000,
        steps=[
            {"id": "big", "component": echo.pk, "inputs": {"value": "{{ 'x' * 5000 }}"}},
            {"id": "small", "component": echo.pk, "inputs": {"value": "{{ steps.big.output.value | length }}"}},
        ],
        outputs=[{"name": "length", "value": "{{ steps.small.output.value }}"}],
    )
    execution = wait(runs.execution_start(workflow=workflow, inputs={}, user=alice))
    assert execution.outputs == {"length": 5000}  # the next step read the whole output
    big = StepRun.objects.get(execution=execution, step="big")
    assert big.outputs["_truncated"] is True
    assert big.outputs["bytes"] > 5000
    assert big.inputs["_truncated"] is True
    small = StepRun.objects.get(execution=execution, step="small")
    assert small.outputs == {"value": 5000}


def test_rate_limit_holds_executions_in_the_queue(workers, alice, project, echo) -> None:  # type: ignore[no-untyped-def]
    workflow = make_workflow(
        project=project,
        actor=alice,
        rate_limit_per_minute=2,
        steps=[{"id": "one", "component": echo.pk, "inputs": {"value": 1}}],
    )
    first, second, third = (runs.execution_start(workflow=workflow, inputs={}, user=alice) for _ in range(3))
    assert wait(first).status == wait(second).status == Status.SUCCEEDED
    time.sleep(2.5)  # two ticks: still over the limit for this minute
    third.refresh_from_db()
    assert third.status == Status.QUEUED
    assert runs.execution_cancel(execution=third, actor=alice)


def test_old_executions_are_pruned_by_retention(workers, alice, project, echo) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from django.utils import timezone

    from workflows import storage

    workflow = make_workflow(
        project=project,
        actor=alice,
        retention_days=7,
        steps=[{"id": "one", "component": echo.pk, "inputs": {"value": 1}}],
    )
    old, recent = (wait(runs.execution_start(workflow=workflow, inputs={}, user=alice)) for _ in range(2))
    WorkflowExecution.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=8))
    assert storage.prune() == 1
    assert list(WorkflowExecution.objects.filter(workflow=workflow).values_list("pk", flat=True)) == [recent.pk]
    assert not StepRun.objects.filter(execution_id=old.pk).exists()


def test_retries_honour_retry_after(workers, alice, project, third_party) -> None:  # type: ignore[no-untyped-def]
    from components import services as component_services

    limited = component_services.component_create(
        project=project,
        actor=alice,
        name="Rate limited",
        kind="http",
        outputs=[{"name": "count", "type": "number"}],
        http={
            "method": "GET",
            "url": third_party.url("/flaky/k5"),
            "query": {"fail": "1", "code": "429", "retry_after": "2"},
            "outputs": {"count": "body.count"},
        },
    )
    component_services.component_publish(component=limited, actor=alice)
    retry = {"attempts": 2, "backoff": 0.1, "max_delay": 10, "jitter": False, "on_codes": [429]}
    workflow = make_workflow(
        project=project, actor=alice, steps=[{"id": "call", "component": limited.pk, "retry": retry}]
    )
    execution = wait(runs.execution_start(workflow=workflow, inputs={}, user=alice))
    assert execution.status == Status.SUCCEEDED, execution.error
    first, second = StepRun.objects.filter(execution=execution).order_by("attempt")
    assert first.error["retry_after"] == 2
    assert (second.started_at - first.finished_at).total_seconds() >= 2  # not the 0.1 s backoff
