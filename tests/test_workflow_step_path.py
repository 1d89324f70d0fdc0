"""The engine's per-step path, in this process (no broker): its query count is pinned, so a change
that adds a query per step shows up here before it shows up in bench/workflows.py."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import make_component, make_workflow
from workflows import engine, runs
from workflows.models import Status, StepRun, StepStatus

pytestmark = pytest.mark.django_db

ADD_ONE = "def run(inputs, ctx):\n    return {'n': inputs['n'] + 1}\n"
INTEGER = {"type": "number", "subtype": "integer"}


def test_a_step_in_a_chain_costs_a_fixed_number_of_queries(  # type: ignore[no-untyped-def]
    alice, project, django_assert_num_queries
) -> None:
    add_one = make_component(
        project=project,
        actor=alice,
        code=ADD_ONE,
        inputs=[{"name": "n", **INTEGER}],
        outputs=[{"name": "n", **INTEGER}],
    )
    steps = [{"id": "s0", "component": add_one.pk, "inputs": {"n": 0}}]
    steps += [
        {"id": f"s{i}", "component": add_one.pk, "inputs": {"n": f"{{{{ steps.s{i - 1}.output.n }}}}"}}
        for i in range(1, 4)
    ]
    workflow = make_workflow(
        project=project, actor=alice, steps=steps, outputs=[{"name": "n", "value": "{{ steps.s3.output.n }}"}]
    )
    execution = runs.execution_start(workflow=workflow, inputs={}, user=alice)
    following = engine.advance(execution.pk, claim=True)  # admits it and leases s0 to this process
    assert following.claimed is not None
    credentials: dict[int, Any] = {}  # what a chain of steps run inline shares (workflows/tasks.py)
    following = engine.run_claimed(following.claimed, credentials=credentials)  # s0: warms the caches
    assert following.claimed is not None
    assert following.claimed.step == "s1"
    assert credentials == {project.pk: {}}  # read by s0, once for the chain
    # s1: the lock, the result, the step runs, the next step run (created leased), and the savepoint
    # around them (a transaction of its own outside this test); the credentials come from s0
    with django_assert_num_queries(6):
        following = engine.run_claimed(following.claimed, credentials=credentials)
    assert following.claimed.step == "s2"
    # without a chain, a step reads the credentials itself
    with django_assert_num_queries(7):
        following = engine.run_claimed(following.claimed)
    # the last step also ends the execution: the lock (which brings the workflow's limits along), the
    # result, the step runs, the execution's end, the payload bound and the savepoint; the outputs
    # map only s3, whose output is known: the other steps' outputs are not read
    with django_assert_num_queries(7):
        following = engine.run_claimed(following.claimed, credentials=credentials)
    assert following.claimed is None
    execution.refresh_from_db()
    assert execution.status == Status.SUCCEEDED
    assert execution.outputs == {"n": 4}
    assert StepRun.objects.filter(execution=execution, status=StepStatus.SUCCEEDED).count() == 4


@pytest.mark.django_db
def test_a_cached_plan_follows_new_component_versions(alice, project) -> None:  # type: ignore[no-untyped-def]
    """Starts reuse a published version's checked plan while its steps resolve to the same
    component versions; a newly published version makes a new plan at once."""
    from components import services as component_services
    from workflows import definition as definitions
    from workflows.services import interfaces_for, resolved_versions

    latest = make_component(project=project, actor=alice, name="Latest")
    pinned = make_component(project=project, actor=alice, name="Pinned")
    component_services.component_publish(component=pinned, actor=alice)  # version 2
    unpublished = make_component(project=project, actor=alice, name="Draft", publish=False)
    steps = [
        {"id": "a", "component": latest.pk, "inputs": {}},
        {"id": "b", "component": pinned.pk, "version": 1, "inputs": {}},
    ]
    workflow = make_workflow(project=project, actor=alice, steps=steps)

    def version_of(execution, step: str) -> int:  # type: ignore[no-untyped-def]
        return next(s["version_id"] for s in execution.plan["steps"] if s["id"] == step)

    first = runs.execution_start(workflow=workflow, inputs={}, user=alice)
    again = runs.execution_start(workflow=workflow, inputs={}, user=alice)
    assert version_of(first, "a") == version_of(again, "a") == latest.versions.get(number=1).pk
    assert version_of(first, "b") == pinned.versions.get(number=1).pk
    newer = component_services.component_publish(component=latest, actor=alice)
    after = runs.execution_start(workflow=workflow, inputs={}, user=alice)
    assert version_of(after, "a") == newer.pk
    assert version_of(after, "b") == pinned.versions.get(number=1).pk  # pinned stays

    # The light resolution agrees with the full one, including the cases a plan never holds.
    parsed = definitions.parse(
        definitions.clean(
            {
                "steps": [
                    *steps,
                    {"id": "c", "component": unpublished.pk, "inputs": {}},
                    {"id": "d", "component": pinned.pk, "version": 7, "inputs": {}},
                    {"id": "e", "component": 999_999, "inputs": {}},
                ]
            }
        )
    )
    full = interfaces_for(project, parsed)
    expected = tuple(sorted((c, v or 0, i.version_id or 0 if i else -1) for (c, v), i in full.items()))
    assert resolved_versions(project, parsed) == expected


def test_payload_bounds_read_only_the_rows_that_may_be_over(alice, project) -> None:  # type: ignore[no-untyped-def]
    """``bound_payloads`` asks the database which rows are long before reading any: characters that
    take many bytes in JSON (escaped astral characters: 12 each) are still caught."""
    from workflows import storage

    echo = make_component(project=project, actor=alice, code=ADD_ONE)
    workflow = make_workflow(
        project=project, actor=alice, max_payload_bytes=1200, steps=[{"id": "s", "component": echo.pk, "inputs": {}}]
    )
    execution = runs.execution_start(workflow=workflow, inputs={}, user=alice)

    def row(item: int, **fields: Any) -> StepRun:
        return StepRun.objects.create(execution=execution, step="s", item=item, status=StepStatus.SUCCEEDED, **fields)

    small = row(0, outputs={"v": "x" * 50}, logs=["fine"])
    emoji = row(1, outputs={"v": "\U0001f600" * 100})  # 106 characters stored, over 1200 bytes in JSON
    logs = row(2, logs=[f"line {n}" for n in range(400)])
    assert storage.bound_payloads(execution) == 2
    for found in (small, emoji, logs):
        found.refresh_from_db()
    assert small.outputs == {"v": "x" * 50}
    assert emoji.outputs["_truncated"] is True
    assert logs.logs[0].endswith("earlier lines truncated]")
    # a second pass finds nothing left to bound
    assert storage.bound_payloads(execution) == 0


def test_a_plan_without_steps_resolves_to_nothing(project) -> None:  # type: ignore[no-untyped-def]
    from workflows import definition as definitions
    from workflows.services import resolved_versions

    assert resolved_versions(project, definitions.parse(definitions.clean({"steps": []}))) == ()


@pytest.mark.parametrize("limit", [None, 2])
def test_a_finished_execution_wakes_a_queued_one_only_when_its_workflow_has_limits(  # type: ignore[no-untyped-def]
    alice, project, django_capture_on_commit_callbacks, limit
) -> None:
    """Without limits every queued execution has its own advance message already (sent when it
    was started): the end of another must not send a second one."""
    from celery.signals import before_task_publish

    add_one = make_component(
        project=project,
        actor=alice,
        code=ADD_ONE,
        inputs=[{"name": "n", **INTEGER}],
        outputs=[{"name": "n", **INTEGER}],
    )
    steps = [{"id": "s", "component": add_one.pk, "inputs": {"n": 1}}]
    workflow = make_workflow(project=project, actor=alice, steps=steps, concurrency_limit=limit)
    first = runs.execution_start(workflow=workflow, inputs={}, user=alice)  # their own messages go
    second = runs.execution_start(workflow=workflow, inputs={}, user=alice)  # after the test's commit
    sent: list[tuple[str, Any]] = []

    def record(sender: str, body: Any, **_: Any) -> None:
        sent.append((sender, list(body[0])))

    before_task_publish.connect(record, weak=False)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            following = engine.advance(first.pk, claim=True)
            assert following.claimed is not None
            assert engine.run_claimed(following.claimed).claimed is None
    finally:
        before_task_publish.disconnect(record)
    first.refresh_from_db()
    assert first.status == Status.SUCCEEDED
    advances = [args for name, args in sent if name == "workflows.advance"]
    assert advances == ([[second.pk]] if limit else [])
