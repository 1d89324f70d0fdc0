"""The workflow engine end to end: real Celery workers (two, one running beat) on the test
database and broker, code components in the sandbox, a loopback API standing in for third parties."""

from __future__ import annotations

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
