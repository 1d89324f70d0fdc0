"""Workflows over the realtime protocol: who may call the cloud functions, and the default wiring
refreshing subscribed calls over a real socket when workflows, triggers and executions change."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from accounts import services as account_services
from accounts.models import Membership, Permission
from realtime import calls
from realtime.registry import Call, CloudError
from tests.factories import make_component, make_project, make_user, make_workflow
from tests.realtime_helpers import Socket
from workflows import runs, services, triggers
from workflows.models import StepRun, StepStatus, WorkflowExecution

pytestmark = pytest.mark.django_db(transaction=True)

NUMBER = {"type": "number", "subtype": "integer"}


@pytest.fixture
def workflow(alice, project):  # type: ignore[no-untyped-def]
    component = make_component(
        project=project,
        actor=alice,
        name="Add one",
        code="def run(inputs, ctx):\n    return {'n': inputs['n'] + 1}\n",
        inputs=[{"name": "n", **NUMBER}],
        outputs=[{"name": "n", **NUMBER}],
    )
    return make_workflow(
        project=project,
        actor=alice,
        name="Count",
        inputs=[{"name": "n", **NUMBER}],
        steps=[
            {"id": "first", "component": component.pk, "inputs": {"n": "{{ input.n }}"}},
            {"id": "second", "component": component.pk, "inputs": {"n": "{{ steps.first.output.n }}"}},
        ],
        outputs=[{"name": "n", "value": "{{ steps.second.output.n }}", **NUMBER}],
    )


def call(name: str, params: dict[str, Any], user: Any, api_key: Any = None) -> Any:
    """Call a cloud function the way both faces do; the data, or the error's status."""
    try:
        return calls.run(name, params, Call(user=user, api_key=api_key)).data
    except CloudError as error:
        return error.status


def test_members_read_workflows_and_executions(alice, bob, project, workflow) -> None:  # type: ignore[no-untyped-def]
    execution = runs.execution_start(workflow=workflow, inputs={"n": 1}, user=alice)
    StepRun.objects.create(
        execution=execution, step="first", status=StepStatus.SUCCEEDED, idempotency_key="k", logs=["one"]
    )
    triggers.webhook_enable(workflow=workflow, actor=alice)
    triggers.schedule_set(workflow=workflow, actor=alice, cron="0 9 * * *", inputs={"n": 1})

    assert [w["name"] for w in call("listWorkflows", {"project_id": project.pk}, bob)] == ["Count"]
    loaded = call("loadWorkflow", {"id": workflow.pk}, bob)
    assert loaded["definition"]["steps"][0]["id"] == "first"
    assert loaded["latest_version"] == 1
    assert loaded["webhook"]["enabled"] is True
    assert "token_digest" not in loaded["webhook"]
    assert loaded["schedule"] == {"enabled": True, "cron": "0 9 * * *", "timezone": "UTC"}

    by_workflow = call("listWorkflowExecutions", {"workflow_id": workflow.pk}, bob)
    by_project = call("listWorkflowExecutions", {"project_id": project.pk}, bob)
    assert [e["id"] for e in by_workflow] == [e["id"] for e in by_project] == [execution.pk]
    assert call("listWorkflowExecutions", {"project_id": project.pk, "status": "failed"}, bob) == []
    assert call("listWorkflowExecutions", {}, bob) == 400

    full = call("getWorkflowExecution", {"id": execution.pk}, bob)
    assert full["status"] == "queued"
    assert [(s["id"], s["status"], s["settled"]) for s in full["steps"]] == [
        ("first", "succeeded", True),
        ("second", "pending", False),
    ]
    assert full["step_runs"][0]["logs"] == ["one"]


def test_outsiders_and_keys_get_404_or_401(alice, charlie, project, workflow) -> None:  # type: ignore[no-untyped-def]
    mine = runs.execution_start(workflow=workflow, inputs={"n": 1}, user=alice)
    for name, params in [
        ("listWorkflows", {"project_id": project.pk}),
        ("loadWorkflow", {"id": workflow.pk}),
        ("listWorkflowExecutions", {"workflow_id": workflow.pk}),
        ("listWorkflowExecutions", {"project_id": project.pk}),
        ("getWorkflowExecution", {"id": mine.pk}),
    ]:
        assert call(name, params, charlie) == 404, name

    # A secret key reaches its own project only (superuser or not: alice is the first user).
    elsewhere = make_project(owner=alice, name="Elsewhere")
    other_key, _ = account_services.api_key_create(project=elsewhere, actor=alice)
    own_key, _ = account_services.api_key_create(project=project, actor=alice)
    assert call("loadWorkflow", {"id": workflow.pk}, alice, other_key) == 404
    assert call("loadWorkflow", {"id": workflow.pk}, alice, own_key)["id"] == workflow.pk


def test_a_publishable_key_reads_only_the_executions_it_started(alice, project, workflow) -> None:  # type: ignore[no-untyped-def]
    from django.contrib.auth.models import AnonymousUser

    key, _raw = account_services.api_key_create(project=project, actor=alice, kind="publishable")
    started = runs.execution_start(workflow=workflow, inputs={"n": 1}, api_key=key)
    by_alice = runs.execution_start(workflow=workflow, inputs={"n": 2}, user=alice)
    anonymous = AnonymousUser()
    assert call("getWorkflowExecution", {"id": started.pk}, anonymous, key)["id"] == started.pk
    assert call("getWorkflowExecution", {"id": by_alice.pk}, anonymous, key) == 404
    assert call("listWorkflowExecutions", {"workflow_id": workflow.pk}, anonymous, key) == 401
    assert call("loadWorkflow", {"id": workflow.pk}, anonymous, key) == 401
    assert call("getWorkflowExecution", {"id": started.pk}, anonymous) == 401


def test_a_viewer_reads_too(alice, project, workflow) -> None:  # type: ignore[no-untyped-def]
    viewer = make_user(email="viola@example.com")
    Membership.objects.create(project=project, user=viewer, permission=Permission.VIEW)
    assert call("loadWorkflow", {"id": workflow.pk}, viewer)["name"] == "Count"


def test_changes_refresh_the_subscribed_calls_of_members_only(alice, bob, charlie, project, workflow) -> None:  # type: ignore[no-untyped-def]
    async def go() -> None:
        b, c = Socket(bob), Socket(charlie)
        await b.connect()
        await c.connect()
        loaded = await b.run("loadWorkflow", {"id": workflow.pk}, request_id="editor", realtime=True)
        assert loaded["status"] == 200
        await b.run("listWorkflows", {"project_id": project.pk}, request_id="list", realtime=True)
        assert (await c.run("loadWorkflow", {"id": workflow.pk}, request_id="peek", realtime=True))["status"] == 404

        await sync_to_async(services.workflow_update)(workflow=workflow, actor=alice, name="Count 2")
        assert {(await b.receive())["request_id"], (await b.receive())["request_id"]} == {"editor", "list"}

        # Trigger settings show on the workflow's page: changing them refreshes it.
        await sync_to_async(triggers.webhook_enable)(workflow=workflow, actor=alice)
        assert {(await b.receive())["request_id"], (await b.receive())["request_id"]} == {"editor", "list"}
        await sync_to_async(triggers.schedule_set)(workflow=workflow, actor=alice, cron="@hourly", inputs={"n": 1})
        assert {(await b.receive())["request_id"], (await b.receive())["request_id"]} == {"editor", "list"}
        assert await c.nothing_within(0.3)

        await sync_to_async(services.workflow_delete)(workflow=workflow, actor=alice)
        assert {(await b.receive())["request_id"], (await b.receive())["request_id"]} == {"editor", "list"}
        await b.close()
        await c.close()

    async_to_sync(go)()


def test_execution_changes_refresh_the_execution_and_both_lists(alice, bob, charlie, project, workflow) -> None:  # type: ignore[no-untyped-def]
    first = runs.execution_start(workflow=workflow, inputs={"n": 1}, user=alice)

    async def go() -> None:
        b, c = Socket(bob), Socket(charlie)
        await b.connect()
        await c.connect()
        await b.run("getWorkflowExecution", {"id": first.pk}, request_id="page", realtime=True)
        await b.run("listWorkflowExecutions", {"workflow_id": workflow.pk}, request_id="runs", realtime=True)
        await b.run("listWorkflowExecutions", {"project_id": project.pk}, request_id="all", realtime=True)
        await c.run("listWorkflowExecutions", {"project_id": project.pk}, request_id="peek", realtime=True)

        # A new execution: both lists (not the other execution's page).
        await sync_to_async(runs.execution_start)(workflow=workflow, inputs={"n": 2}, user=alice)
        assert {(await b.receive())["request_id"], (await b.receive())["request_id"]} == {"runs", "all"}
        assert await b.nothing_within(0.3)

        # The watched execution changes (cancelled here; every step change announces the same way).
        assert await sync_to_async(runs.execution_cancel)(execution=first, actor=alice)
        got = {(await b.receive())["request_id"] for _ in range(3)}
        assert got == {"page", "runs", "all"}
        refreshed = await b.run("getWorkflowExecution", {"id": first.pk}, request_id="page", realtime=True)
        assert refreshed["data"]["status"] == "cancelled"
        assert await c.nothing_within(0.3)
        await b.close()
        await c.close()

    async_to_sync(go)()
    assert WorkflowExecution.objects.count() == 2
