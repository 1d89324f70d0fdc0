"""The workflows API: workflows, versions, runs, executions, access for members, keys and outsiders.

Most tests need no worker: an async run only records a queued execution (nothing is sent before
the test's transaction would commit). The tests marked ``services`` run through a real Celery
worker, started once for the module.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone

from accounts import services as account_services
from accounts.models import Plan
from tests import fake_api, servers
from tests.apiclient import API, EDITOR, OUTSIDER, OWNER, PERSONAS, VIEWER, expected
from tests.factories import make_component, make_project, make_user, make_workflow
from workflows.models import StepRun, Workflow, WorkflowExecution, WorkflowVersion

pytestmark = pytest.mark.django_db

NUMBER = {"type": "number", "subtype": "integer"}
ADD = "def run(inputs, ctx):\n    ctx.log('adding')\n    return {'sum': inputs['a'] + inputs['b']}\n"
SLEEP = "import time\n\ndef run(inputs, ctx):\n    time.sleep(inputs['seconds'])\n    return {'done': True}\n"


def api(client, method, path, data=None, **headers):  # type: ignore[no-untyped-def]
    return getattr(client, method)(f"{API}/{path}", data, content_type="application/json", **headers)


@pytest.fixture
def viewer(alice, project):  # type: ignore[no-untyped-def]
    """Vera may view Alice's project: she reads and runs, changes nothing."""
    from accounts.models import Membership

    vera = make_user(email="vera@example.com", name="Vera")
    Membership.objects.create(project=project, user=vera, permission="view")
    return vera


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


def two_steps(adder):  # type: ignore[no-untyped-def]
    return {
        "inputs": [{"name": "x", **NUMBER}],
        "steps": [
            {"id": "one", "component": adder.pk, "inputs": {"a": "{{ input.x }}", "b": 1}},
            {"id": "two", "component": adder.pk, "inputs": {"a": "{{ steps.one.output.sum }}", "b": 10}},
        ],
        "outputs": [{"name": "total", "value": "{{ steps.two.output.sum }}", **NUMBER}],
    }


@pytest.fixture
def workflow(alice, project, adder):  # type: ignore[no-untyped-def]
    definition = two_steps(adder)
    return make_workflow(
        project=project,
        actor=alice,
        name="Plus eleven",
        steps=definition["steps"],
        inputs=definition["inputs"],
        outputs=definition["outputs"],
    )


def finished(execution: WorkflowExecution, status: str = "failed") -> WorkflowExecution:
    """Mark a queued execution as finished, as the engine would have (for tests without a worker)."""
    now = timezone.now()
    error = {"code": 201, "message": "boom", "step": "one"} if status == "failed" else None
    WorkflowExecution.objects.filter(pk=execution.pk).update(
        status=status, error=error, started_at=now, finished_at=now
    )
    execution.refresh_from_db()
    return execution


def queued(workflow: Workflow, user: Any) -> WorkflowExecution:
    from workflows import runs

    return runs.execution_start(workflow=workflow, inputs={"x": 1}, user=user)


# --- Access: every endpoint, every persona ----------------------------------------------------

ENDPOINTS = [
    # (method, path with {w} workflow id and {e} execution id, body, expected statuses)
    ("get", "workflows/{w}/", None, expected(edit=200, view=200)),
    ("patch", "workflows/{w}/", {"description": "changed"}, expected(edit=200, view=403)),
    ("delete", "workflows/{w}/", None, expected(edit=204, view=403)),
    ("post", "workflows/{w}/publish/", {"changelog": "again"}, expected(edit=201, view=403)),
    ("post", "workflows/{w}/duplicate/", {}, expected(edit=201, view=403)),
    ("get", "workflows/{w}/versions/", None, expected(edit=200, view=200)),
    ("post", "workflows/{w}/validate/", {}, expected(edit=200, view=200)),
    ("post", "workflows/{w}/run?async=1", {"x": 2}, expected(edit=202, view=202)),
    ("post", "workflows/{w}/rerun-failed/", {}, expected(edit=201, view=403)),
    ("get", "workflows/{w}/export/", None, expected(edit=200, view=200)),
    ("get", "workflow-executions/{e}/", None, expected(edit=200, view=200)),
    ("post", "workflow-executions/{e}/cancel/", None, expected(edit=200, view=403)),
    ("post", "workflow-executions/{e}/replay/", None, expected(edit=201, view=403)),
    ("post", "workflow-executions/{e}/restart/", {"step": "two"}, expected(edit=201, view=403)),
]


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(("method", "path", "body", "statuses"), ENDPOINTS, ids=[f"{m} {p}" for m, p, *_ in ENDPOINTS])
def test_every_endpoint_answers_each_persona(
    client, alice, bob, charlie, viewer, workflow, persona, method, path, body, statuses
):  # type: ignore[no-untyped-def]
    execution = finished(queued(workflow, alice))
    user = {OWNER: alice, EDITOR: bob, VIEWER: viewer, OUTSIDER: charlie}[persona]
    client.force_login(user)
    before = (Workflow.objects.count(), WorkflowVersion.objects.count(), WorkflowExecution.objects.count())
    response = api(client, method, path.format(w=workflow.pk, e=execution.pk), body)
    assert response.status_code == statuses[persona], response.content
    if response.status_code in (403, 404):
        after = (Workflow.objects.count(), WorkflowVersion.objects.count(), WorkflowExecution.objects.count())
        assert after == before  # refused: nothing changed
        workflow.refresh_from_db()
        assert workflow.description == ""
    if persona == OUTSIDER and "/run" in path:
        assert response.json()["code"] == 104  # run endpoints speak in error codes


def test_lists_show_only_your_projects(client, alice, charlie, workflow):  # type: ignore[no-untyped-def]
    queued(workflow, alice)
    client.force_login(charlie)
    assert api(client, "get", "workflows/").json()["results"] == []
    assert api(client, "get", "workflow-executions/").json()["results"] == []
    client.force_login(alice)
    assert [w["name"] for w in api(client, "get", "workflows/").json()["results"]] == ["Plus eleven"]
    assert len(api(client, "get", "workflow-executions/").json()["results"]) == 1


def test_creating_needs_edit_on_a_project_of_yours(client, alice, bob, charlie, viewer, project, adder):  # type: ignore[no-untyped-def]
    body = {"project": project.pk, "name": "New", "definition": two_steps(adder)}
    client.force_login(bob)
    created = api(client, "post", "workflows/", body)
    assert created.status_code == 201, created.json()
    assert created.json()["is_valid"] is True
    assert created.json()["problems"] == []
    assert Workflow.objects.get(pk=created.json()["id"]).created_by == bob
    client.force_login(viewer)
    assert api(client, "post", "workflows/", body).status_code == 403
    client.force_login(charlie)
    outsider = api(client, "post", "workflows/", body)
    assert outsider.status_code == 400
    assert "project" in outsider.json()["errors"]
    assert Workflow.objects.count() == 1


def test_importing_needs_edit_on_a_project_of_yours(client, alice, bob, charlie, viewer, project, workflow):  # type: ignore[no-untyped-def]
    client.force_login(alice)
    document = api(client, "get", f"workflows/{workflow.pk}/export/").json()
    for user, status in ((bob, 201), (viewer, 403), (charlie, 400)):
        client.force_login(user)
        response = api(client, "post", "workflows/import/", {"project": project.pk, "document": document})
        assert response.status_code == status, response.content
    assert Workflow.objects.filter(project=project).count() == 2


# --- Workflows ----------------------------------------------------------------------------------


def test_a_definition_of_the_wrong_shape_is_400_naming_the_field(client, bob, project, workflow):  # type: ignore[no-untyped-def]
    client.force_login(bob)
    bad = {"steps": [{"id": "Not An Id", "component": "twelve"}]}
    created = api(client, "post", "workflows/", {"project": project.pk, "name": "Bad", "definition": bad})
    assert created.status_code == 400
    errors = created.json()["errors"]["definition"]
    assert set(errors) == {"steps[0].id", "steps[0].component"}
    patched = api(client, "patch", f"workflows/{workflow.pk}/", {"definition": {"outputs": "none"}})
    assert patched.status_code == 400
    assert "outputs" in patched.json()["errors"]["definition"]
    assert api(client, "patch", f"workflows/{workflow.pk}/", {"definition": []}).status_code == 400
    assert api(client, "patch", f"workflows/{workflow.pk}/", {"timeout_seconds": -1}).status_code == 400


def test_problems_are_saved_in_the_body_and_block_publishing(client, bob, workflow, adder):  # type: ignore[no-untyped-def]
    client.force_login(bob)
    definition = two_steps(adder)
    definition["steps"][1]["inputs"]["a"] = "{{ steps.one.output.nope }}"
    patched = api(client, "patch", f"workflows/{workflow.pk}/", {"definition": definition})
    assert patched.status_code == 200
    assert patched.json()["is_valid"] is False
    assert patched.json()["problems"] == [
        {"step": "two", "field": "inputs.a", "message": "one has no output named nope"}
    ]
    refused = api(client, "post", f"workflows/{workflow.pk}/publish/", {"changelog": "broken"})
    assert refused.status_code == 400
    assert refused.json()["errors"]["problems"][0]["field"] == "inputs.a"
    assert "two.inputs.a: one has no output named nope" in refused.json()["errors"]["definition"]
    assert workflow.versions.count() == 1


def test_publish_freezes_a_version_and_versions_lists_them(client, bob, workflow):  # type: ignore[no-untyped-def]
    client.force_login(bob)
    published = api(client, "post", f"workflows/{workflow.pk}/publish/", {"changelog": "second"})
    assert published.status_code == 201
    assert published.json()["number"] == 2
    assert published.json()["changelog"] == "second"
    versions = api(client, "get", f"workflows/{workflow.pk}/versions/").json()
    assert [v["number"] for v in versions] == [2, 1]
    assert api(client, "get", f"workflows/{workflow.pk}/").json()["latest_version"] == 2


def test_validate_checks_a_posted_definition_without_saving(client, viewer, workflow, adder):  # type: ignore[no-untyped-def]
    client.force_login(viewer)
    definition = two_steps(adder)
    definition["steps"][0]["inputs"] = {"a": "{{ input.y }}"}
    response = api(client, "post", f"workflows/{workflow.pk}/validate/", {"definition": definition})
    assert response.status_code == 200
    assert response.json()["is_valid"] is False
    messages = {(p["step"], p["field"], p["message"]) for p in response.json()["problems"]}
    assert ("one", "inputs.a", "the workflow has no input named y") in messages
    assert any(step == "one" and where == "inputs.b" for step, where, _ in messages)  # b went missing
    workflow.refresh_from_db()
    assert workflow.definition["steps"][0]["inputs"]["a"] == "{{ input.x }}"  # not saved
    assert workflow.problems == []
    saved = api(client, "post", f"workflows/{workflow.pk}/validate/", {}).json()
    assert saved["is_valid"] is True
    shape = api(client, "post", f"workflows/{workflow.pk}/validate/", {"definition": {"steps": "x"}})
    assert shape.status_code == 400
    assert "steps" in shape.json()["errors"]["definition"]


def test_duplicate_and_delete(client, bob, workflow):  # type: ignore[no-untyped-def]
    client.force_login(bob)
    copy = api(client, "post", f"workflows/{workflow.pk}/duplicate/", {"name": "Twin"})
    assert copy.status_code == 201
    assert copy.json()["name"] == "Twin"
    assert copy.json()["latest_version"] is None
    for part in ("inputs", "steps", "outputs"):
        assert copy.json()["definition"][part] == workflow.definition[part]
    assert api(client, "delete", f"workflows/{copy.json()['id']}/").status_code == 204
    assert not Workflow.objects.filter(pk=copy.json()["id"]).exists()


def test_the_list_filters_by_project_in_a_fixed_number_of_queries(
    client, alice, project, adder, django_assert_max_num_queries
):  # type: ignore[no-untyped-def]
    other = make_project(owner=alice, name="Other")
    definition = two_steps(adder)
    for index in range(5):
        make_workflow(
            project=project, actor=alice, name=f"W{index}", **{k: definition[k] for k in ("inputs", "outputs", "steps")}
        )
    make_workflow(project=other, actor=alice, name="Elsewhere", steps=[], publish=False)
    client.force_login(alice)
    with django_assert_max_num_queries(5):
        listed = api(client, "get", f"workflows/?project={project.pk}").json()
    assert [w["name"] for w in listed["results"]] == ["W0", "W1", "W2", "W3", "W4"]
    assert all(w["latest_version"] == 1 for w in listed["results"])
    assert api(client, "get", "workflows/?project=nope").status_code == 400


def test_a_secret_key_reaches_only_its_project(client, alice, project, workflow):  # type: ignore[no-untyped-def]
    other = make_project(owner=alice, name="Other")
    elsewhere = make_workflow(project=other, actor=alice, name="Elsewhere", steps=[], publish=False)
    _key, raw = account_services.api_key_create(project=project, actor=alice)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    assert [w["name"] for w in api(client, "get", "workflows/", **auth).json()["results"]] == ["Plus eleven"]
    assert api(client, "get", f"workflows/{elsewhere.pk}/", **auth).status_code == 404
    assert api(client, "post", f"workflows/{elsewhere.pk}/run?async=1", {}, **auth).json()["code"] == 104
    started = api(client, "post", f"workflows/{workflow.pk}/run?async=1", {"x": 1}, **auth)
    assert started.status_code == 202
    assert WorkflowExecution.objects.get(pk=started.json()["id"]).api_key_id == _key.pk


# --- Runs ---------------------------------------------------------------------------------------


def test_an_async_run_answers_202_with_the_queued_execution(client, viewer, workflow):  # type: ignore[no-untyped-def]
    client.force_login(viewer)
    response = api(client, "post", f"workflows/{workflow.pk}/run?async=1", {"x": "5"})
    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["trigger"], body["version"], body["inputs"]) == ("queued", "api", 1, {"x": 5})
    assert body["steps"] == []
    assert WorkflowExecution.objects.get(pk=body["id"]).user == viewer


def test_bad_inputs_are_101_and_102(client, bob, workflow):  # type: ignore[no-untyped-def]
    client.force_login(bob)
    wrong = api(client, "post", f"workflows/{workflow.pk}/run?async=1", {"x": "five"})
    assert wrong.status_code == 400
    assert wrong.json()["code"] == 101
    assert wrong.json()["incorrect"][0]["name"] == "x"
    missing = api(client, "post", f"workflows/{workflow.pk}/run?async=1", {})
    assert (missing.status_code, missing.json()["code"], missing.json()["missing"]) == (400, 102, ["x"])
    not_an_object = api(client, "post", f"workflows/{workflow.pk}/run?async=1", [1, 2])
    assert (not_an_object.status_code, not_an_object.json()["code"]) == (400, 101)


def test_versions_and_the_draft(client, bob, viewer, workflow):  # type: ignore[no-untyped-def]
    client.force_login(bob)
    assert api(client, "post", f"workflows/{workflow.pk}/run?async=1&version=1", {"x": 1}).status_code == 202
    unknown = api(client, "post", f"workflows/{workflow.pk}/run?async=1&version=7", {"x": 1})
    assert (unknown.status_code, unknown.json()["code"]) == (404, 104)
    assert api(client, "post", f"workflows/{workflow.pk}/run?async=1&version=abc", {"x": 1}).json()["code"] == 104
    draft = api(client, "post", f"workflows/{workflow.pk}/run?async=1&version=draft", {"x": 1})
    assert draft.status_code == 202
    assert (draft.json()["trigger"], draft.json()["version"]) == ("editor", None)
    client.force_login(viewer)
    refused = api(client, "post", f"workflows/{workflow.pk}/run?async=1&version=draft", {"x": 1})
    assert (refused.status_code, refused.json()["code"]) == (403, 105)
    assert api(client, "post", f"workflows/{workflow.pk}/run?timeout=soon", {"x": 1}).status_code == 400


def test_a_workflow_with_problems_or_never_published_does_not_run(client, bob, project, adder):  # type: ignore[no-untyped-def]
    never = make_workflow(project=project, actor=bob, name="Never", publish=False, **two_steps(adder))
    client.force_login(bob)
    response = api(client, "post", f"workflows/{never.pk}/run?async=1", {"x": 1})
    assert (response.status_code, response.json()["code"]) == (404, 104)
    api(client, "patch", f"workflows/{never.pk}/", {"definition": {"steps": [{"id": "a", "component": 999999}]}})
    draft = api(client, "post", f"workflows/{never.pk}/run?async=1&version=draft", {})
    assert (draft.status_code, draft.json()["code"]) == (403, 105)
    assert "no component 999999" in draft.json()["message"]


def test_over_quota_is_429_with_code_108(client, alice, bob, workflow):  # type: ignore[no-untyped-def]
    account_services.user_set_plan(user=alice, plan=Plan.objects.create(name="Tiny", slug="tiny", monthly_quota=0))
    client.force_login(bob)
    response = api(client, "post", f"workflows/{workflow.pk}/run?async=1", {"x": 1})
    assert (response.status_code, response.json()["code"]) == (429, 108)
    assert not WorkflowExecution.objects.exists()


# --- Publishable keys ---------------------------------------------------------------------------


@pytest.fixture
def publishable(alice, project):  # type: ignore[no-untyped-def]
    _key, raw = account_services.api_key_create(project=project, actor=alice, kind="publishable")
    return {"HTTP_X_SYNCHRONISE_PUBLIC_KEY": raw}


def test_a_publishable_key_runs_only_public_workflows_of_its_project(client, alice, project, workflow, publishable):  # type: ignore[no-untyped-def]
    private = api(client, "post", f"workflows/{workflow.pk}/run?async=1", {"x": 1}, **publishable)
    assert (private.status_code, private.json()["code"]) == (404, 104)
    from workflows import services

    services.workflow_update(workflow=workflow, actor=alice, public=True)
    public = api(client, "post", f"workflows/{workflow.pk}/run?async=1", {"x": 1}, **publishable)
    assert public.status_code == 202
    draft = api(client, "post", f"workflows/{workflow.pk}/run?async=1&version=draft", {"x": 1}, **publishable)
    assert draft.json()["code"] == 105
    other = make_project(owner=alice, name="Other")
    elsewhere = make_workflow(project=other, actor=alice, name="Elsewhere", steps=[], public=True, publish=False)
    assert api(client, "post", f"workflows/{elsewhere.pk}/run?async=1", {}, **publishable).json()["code"] == 104


def test_a_publishable_key_reads_only_the_executions_it_started_and_changes_nothing(
    client, alice, workflow, publishable
):  # type: ignore[no-untyped-def]
    from workflows import services

    services.workflow_update(workflow=workflow, actor=alice, public=True)
    mine = api(client, "post", f"workflows/{workflow.pk}/run?async=1", {"x": 1}, **publishable).json()
    someone_elses = queued(workflow, alice)
    assert api(client, "get", f"workflow-executions/{mine['id']}/", **publishable).status_code == 200
    assert api(client, "get", f"workflow-executions/{someone_elses.pk}/", **publishable).status_code == 404
    listed = api(client, "get", "workflow-executions/", **publishable).json()["results"]
    assert [e["id"] for e in listed] == [mine["id"]]
    assert api(client, "post", f"workflow-executions/{mine['id']}/cancel/", **publishable).status_code == 403
    assert api(client, "get", "workflows/", **publishable).status_code == 401
    assert api(client, "get", f"workflows/{workflow.pk}/", **publishable).status_code == 401
    assert api(client, "patch", f"workflows/{workflow.pk}/", {"name": "x"}, **publishable).status_code == 401


# --- The original route -------------------------------------------------------------------------


def test_the_original_route_needs_an_id_and_knows_only_yours(client, alice, workflow, publishable):  # type: ignore[no-untyped-def]
    missing = client.post("/workflow/run", {"x": 1}, content_type="application/json", **publishable)
    assert (missing.status_code, missing.json()["code"]) == (500, 103)  # every failure is 500, as the original
    unknown = client.post("/workflow/run", {"id": 999999}, content_type="application/json", **publishable)
    assert (unknown.status_code, unknown.json()["code"]) == (500, 104)
    private = client.post("/workflow/run", {"id": workflow.pk, "x": 1}, content_type="application/json", **publishable)
    assert private.json()["code"] == 104


def test_the_original_route_runs_a_public_workflow_with_the_public_key(client, alice, workflow, publishable):  # type: ignore[no-untyped-def]
    from workflows import services

    services.workflow_update(workflow=workflow, actor=alice, public=True)
    body = {"id": str(workflow.pk), "x": 4}
    response = client.post("/workflow/run?async=1", body, content_type="application/json", **publishable)
    assert response.status_code == 202
    execution = WorkflowExecution.objects.get(pk=response.json()["id"])
    assert (execution.trigger, execution.inputs) == ("legacy", {"x": 4})  # the id is not an input
    wrong = client.post(
        "/workflow/run?async=1", {"id": workflow.pk, "x": "four"}, content_type="application/json", **publishable
    )
    assert (wrong.status_code, wrong.json()["code"]) == (500, 101)
    form = client.post("/workflow/run?async=1", {"id": workflow.pk, "x": "7"}, **publishable)  # a form post
    assert form.status_code == 202
    assert WorkflowExecution.objects.get(pk=form.json()["id"]).inputs == {"x": 7}


# --- Executions ---------------------------------------------------------------------------------


def test_execution_list_filters_paginates_newest_first_in_few_queries(
    client, alice, bob, project, workflow, adder, django_assert_max_num_queries
):  # type: ignore[no-untyped-def]
    other = make_workflow(project=project, actor=alice, name="Other", **two_steps(adder))
    first = finished(queued(workflow, alice), "succeeded")
    second = finished(queued(workflow, alice), "failed")
    third = queued(other, bob)
    # The newest row, back-dated: the order is by creation time, not by id.
    WorkflowExecution.objects.filter(pk=third.pk).update(created_at=timezone.now() - datetime.timedelta(days=2))
    for _ in range(6):
        queued(workflow, alice)
    client.force_login(bob)
    with django_assert_max_num_queries(5):
        everything = api(client, "get", "workflow-executions/?limit=4").json()
    assert everything["count"] == 9
    assert len(everything["results"]) == 4
    assert everything["next"]
    ids = [e["id"] for e in api(client, "get", "workflow-executions/").json()["results"]]
    assert ids == [*sorted(set(ids) - {third.pk}, reverse=True), third.pk]
    assert all(e["steps"] is None for e in everything["results"])

    def ids_for(query: str) -> list[int]:
        response = api(client, "get", f"workflow-executions/?{query}")
        assert response.status_code == 200, response.content
        return [e["id"] for e in response.json()["results"]]

    assert ids_for(f"workflow={other.pk}") == [third.pk]
    assert ids_for("status=failed") == [second.pk]
    assert ids_for(f"status=succeeded&workflow={workflow.pk}") == [first.pk]
    assert ids_for("trigger=replay") == []
    assert ids_for(f"project={project.pk}&status=succeeded") == [first.pk]
    yesterday = (timezone.now() - datetime.timedelta(days=1)).isoformat()
    assert ids_for(f"created_before={yesterday.replace('+', '%2B')}") == [third.pk]
    assert third.pk not in ids_for(f"created_after={yesterday.replace('+', '%2B')}")
    assert len(ids_for(f"created_after={yesterday.replace('+', '%2B')}")) == 8
    bad = api(client, "get", "workflow-executions/?status=sleeping")
    assert bad.status_code == 400
    assert "status" in bad.json()["errors"]
    assert "created_after" in api(client, "get", "workflow-executions/?created_after=monday").json()["errors"]


def test_an_execution_shows_its_step_runs(client, alice, viewer, workflow):  # type: ignore[no-untyped-def]
    execution = finished(queued(workflow, alice), "succeeded")
    StepRun.objects.create(
        execution=execution, step="one", attempt=1, status="succeeded", idempotency_key="k",
        inputs={"a": 1, "b": 1}, outputs={"sum": 2}, logs=["adding"], duration_ms=3.5,
    )  # fmt: skip
    client.force_login(viewer)
    body = api(client, "get", f"workflow-executions/{execution.pk}/").json()
    assert body["workflow"] == workflow.pk
    assert body["status"] == "succeeded"
    (step,) = body["steps"]
    assert {k: step[k] for k in ("step", "item", "attempt", "status", "inputs", "outputs", "logs", "reused")} == {
        "step": "one", "item": 0, "attempt": 1, "status": "succeeded", "inputs": {"a": 1, "b": 1},
        "outputs": {"sum": 2}, "logs": ["adding"], "reused": False,
    }  # fmt: skip
    assert step["duration_ms"] == 3.5
    assert "started_at" in step
    assert "finished_at" in step


def test_restart_needs_a_known_step_of_a_finished_execution(client, alice, bob, workflow):  # type: ignore[no-untyped-def]
    running = queued(workflow, alice)
    client.force_login(bob)
    still = api(client, "post", f"workflow-executions/{running.pk}/restart/", {"step": "two"})
    assert still.status_code == 400
    assert "step" in still.json()["errors"]
    finished(running)
    unknown = api(client, "post", f"workflow-executions/{running.pk}/restart/", {"step": "three"})
    assert unknown.status_code == 400
    assert "three" in unknown.json()["errors"]["step"][0]
    assert api(client, "post", f"workflow-executions/{running.pk}/restart/", {}).status_code == 400
    restarted = api(client, "post", f"workflow-executions/{running.pk}/restart/", {"step": "two"})
    assert restarted.status_code == 201
    assert (restarted.json()["trigger"], restarted.json()["source"], restarted.json()["restart_from"]) == (
        "restart",
        running.pk,
        "two",
    )


def test_cancel_replay_and_rerun_failed_without_a_worker(client, alice, bob, workflow):  # type: ignore[no-untyped-def]
    failed = finished(queued(workflow, alice))
    waiting = queued(workflow, alice)
    client.force_login(bob)
    cancelled = api(client, "post", f"workflow-executions/{waiting.pk}/cancel/")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert api(client, "post", f"workflow-executions/{failed.pk}/cancel/").json()["status"] == "failed"  # left as is
    replayed = api(client, "post", f"workflow-executions/{failed.pk}/replay/")
    assert replayed.status_code == 201
    assert (replayed.json()["trigger"], replayed.json()["source"], replayed.json()["inputs"]) == (
        "replay",
        failed.pk,
        {"x": 1},
    )
    rerun = api(client, "post", f"workflows/{workflow.pk}/rerun-failed/", {"limit": 5})
    assert (rerun.status_code, rerun.json()["started"]) == (201, [])  # its one failure has been replayed already
    assert api(client, "post", f"workflows/{workflow.pk}/rerun-failed/", {"limit": 0}).status_code == 400


def test_rerun_failed_replays_each_failure_once_and_leaves_bad_inputs_alone(client, alice, bob, workflow):  # type: ignore[no-untyped-def]
    from components.errors import RunError
    from workflows import runs

    failed = finished(queued(workflow, alice))
    with pytest.raises(RunError):
        runs.execution_start(workflow=workflow, inputs={"x": "many"}, user=alice)  # recorded, failed with 101
    bad_input = WorkflowExecution.objects.filter(workflow=workflow, error__code=101).get()
    assert bad_input.started_at is None  # it never started: no rate limit counts it
    refused = runs.execution_record_refused(
        workflow=workflow, trigger="schedule", inputs={"x": 2}, error=RunError(108, "the quota is used up")
    )
    assert (refused.plan, refused.started_at) == ({}, None)
    client.force_login(bob)
    rerun = api(client, "post", f"workflows/{workflow.pk}/rerun-failed/", {})
    assert rerun.status_code == 201
    assert sorted((e["source"], e["status"], e["inputs"]) for e in rerun.json()["started"]) == [
        (failed.pk, "queued", {"x": 1}),
        (refused.pk, "queued", {"x": 2}),  # runs the workflow as it is now
    ]
    replayed = WorkflowExecution.objects.get(source=refused)
    assert replayed.plan["steps"] == failed.plan["steps"]
    again = api(client, "post", f"workflows/{workflow.pk}/rerun-failed/", {})
    assert (again.status_code, again.json()["started"]) == (201, [])
    assert again.json()["skipped"]["executions"] == [bad_input.pk]  # left out, and said why
    assert not WorkflowExecution.objects.filter(source=bad_input).exists()


# --- Through a real worker ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def third_party() -> Iterator[fake_api.FakeApi]:
    with fake_api.serve() as server:
        yield server


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker, third_party) -> Iterator[None]:  # type: ignore[no-untyped-def]
    with (
        django_db_blocker.unblock(),
        servers.celery_worker(name="workflows-api", OUTBOUND_ALLOW=third_party.destination),
    ):
        yield


@pytest.fixture
def sleeper(alice, project):  # type: ignore[no-untyped-def]
    return make_component(
        project=project, actor=alice, name="Sleep", code=SLEEP,
        inputs=[{"name": "seconds", "type": "number"}], outputs=[{"name": "done", "type": "bool"}],
    )  # fmt: skip


@pytest.fixture
def flaky(alice, project, third_party):  # type: ignore[no-untyped-def]
    """An http component calling /flaky/<key>: the first `fail` calls for a key fail with 400."""
    from components import services as component_services

    component = component_services.component_create(
        project=project,
        actor=alice,
        name="Flaky",
        kind="http",
        inputs=[{"name": "key", "type": "text"}, {"name": "fail", "type": "number"}],
        outputs=[{"name": "count", "type": "number"}],
        http={
            "method": "GET",
            "url": third_party.url("/flaky/{{ inputs.key }}"),
            "query": {"fail": "{{ inputs.fail }}", "code": "400"},
            "outputs": {"count": "body.count"},
        },
    )
    component_services.component_publish(component=component, actor=alice)
    return component


@pytest.mark.parametrize("route", ["api", "legacy"])
@pytest.mark.django_db(transaction=True)
@pytest.mark.services
def test_a_sync_run_answers_with_the_outputs_and_steps(worker, client, alice, viewer, workflow, route):  # type: ignore[no-untyped-def]
    client.force_login(viewer)
    if route == "api":
        response = api(client, "post", f"workflows/{workflow.pk}/run?timeout=30", {"x": 5})
    else:
        response = client.post("/workflow/run", {"id": workflow.pk, "x": 5}, content_type="application/json")
    assert response.status_code == 200, response.content
    body = response.json()
    if route == "legacy":  # the outputs object itself, as the original answered
        assert body == {"total": 16}
        return
    assert (body["status"], body["outputs"], body["error"]) == ("succeeded", {"total": 16}, None)
    assert [(s["step"], s["status"], s["outputs"]) for s in body["steps"]] == [
        ("one", "succeeded", {"sum": 6}),
        ("two", "succeeded", {"sum": 16}),
    ]
    assert body["steps"][0]["logs"] == ["adding"]
    assert body["trigger"] == route


@pytest.mark.django_db(transaction=True)
@pytest.mark.services
def test_a_failed_run_is_200_with_the_error_on_the_api_and_the_error_status_on_the_original_route(
    worker, client, alice, bob, project, flaky
):  # type: ignore[no-untyped-def]
    workflow = make_workflow(
        project=project, actor=alice, name="Fails",
        steps=[{"id": "call", "component": flaky.pk, "inputs": {"key": uuid.uuid4().hex, "fail": 9}}],
    )  # fmt: skip
    client.force_login(bob)
    response = api(client, "post", f"workflows/{workflow.pk}/run", {})
    assert response.status_code == 200
    assert response.json()["status"] == "failed"
    assert response.json()["error"]["code"] == 400
    assert response.json()["error"]["step"] == "call"
    assert response.json()["steps"][0]["status"] == "failed"
    legacy = client.post("/workflow/run", {"id": workflow.pk}, content_type="application/json")
    assert legacy.status_code == 500  # the original's only failure status
    assert (legacy.json()["code"], legacy.json()["step"]) == (400, "call")  # the step's error itself


@pytest.mark.django_db(transaction=True)
@pytest.mark.services
def test_async_run_then_read_and_a_timeout_answers_202(worker, client, alice, bob, project, workflow, sleeper):  # type: ignore[no-untyped-def]
    client.force_login(bob)
    started = api(client, "post", f"workflows/{workflow.pk}/run?async=1", {"x": 1})
    assert started.status_code == 202
    from workflows import runs

    runs.execution_wait(WorkflowExecution.objects.get(pk=started.json()["id"]), timeout=30)
    read = api(client, "get", f"workflow-executions/{started.json()['id']}/").json()
    assert (read["status"], read["outputs"]) == ("succeeded", {"total": 12})
    slow = make_workflow(
        project=project,
        actor=alice,
        name="Slow",
        steps=[{"id": "nap", "component": sleeper.pk, "inputs": {"seconds": 1.5}}],
    )
    pending = api(client, "post", f"workflows/{slow.pk}/run?timeout=0.2", {})
    assert pending.status_code == 202
    assert pending.json()["status"] in ("queued", "running")
    done = runs.execution_wait(WorkflowExecution.objects.get(pk=pending.json()["id"]), timeout=30)
    assert done.status == "succeeded"


@pytest.mark.django_db(transaction=True)
@pytest.mark.services
def test_cancel_restart_and_replay_through_the_api(worker, client, alice, bob, project, workflow, sleeper):  # type: ignore[no-untyped-def]
    from workflows import runs

    client.force_login(bob)
    slow = make_workflow(
        project=project,
        actor=alice,
        name="Slow",
        steps=[{"id": "nap", "component": sleeper.pk, "inputs": {"seconds": 5}}],
    )
    started = api(client, "post", f"workflows/{slow.pk}/run?async=1", {}).json()
    cancelled = api(client, "post", f"workflow-executions/{started['id']}/cancel/")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"

    first = api(client, "post", f"workflows/{workflow.pk}/run", {"x": 1}).json()
    assert first["status"] == "succeeded"
    restarted = api(client, "post", f"workflow-executions/{first['id']}/restart/", {"step": "two"})
    assert restarted.status_code == 201
    again = runs.execution_wait(WorkflowExecution.objects.get(pk=restarted.json()["id"]), timeout=30)
    assert (again.status, again.outputs) == ("succeeded", {"total": 12})
    rows = {row.step: row for row in again.step_runs.all()}
    assert rows["one"].reused
    assert not rows["two"].reused
    replayed = api(client, "post", f"workflow-executions/{first['id']}/replay/")
    assert replayed.status_code == 201
    ran = runs.execution_wait(WorkflowExecution.objects.get(pk=replayed.json()["id"]), timeout=30)
    assert ran.outputs == {"total": 12}
    assert not ran.step_runs.filter(reused=True).exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.services
def test_rerun_failed_replays_the_failures_which_then_succeed(worker, client, alice, bob, project, flaky):  # type: ignore[no-untyped-def]
    from workflows import runs

    key = uuid.uuid4().hex
    workflow = make_workflow(
        project=project, actor=alice, name="Flaky once",
        inputs=[{"name": "key", "type": "text"}],
        steps=[{"id": "call", "component": flaky.pk, "inputs": {"key": "{{ input.key }}", "fail": 1}}],
        outputs=[{"name": "count", "value": "{{ steps.call.output.count }}"}],
    )  # fmt: skip
    client.force_login(bob)
    failures = [api(client, "post", f"workflows/{workflow.pk}/run", {"key": f"{key}-{n}"}).json() for n in range(2)]
    assert [f["status"] for f in failures] == ["failed", "failed"]
    rerun = api(client, "post", f"workflows/{workflow.pk}/rerun-failed/", {})
    assert rerun.status_code == 201
    assert sorted(e["source"] for e in rerun.json()["started"]) == sorted(f["id"] for f in failures)
    for started in rerun.json()["started"]:
        execution = runs.execution_wait(WorkflowExecution.objects.get(pk=started["id"]), timeout=30)
        assert (execution.status, execution.trigger, execution.outputs) == ("succeeded", "replay", {"count": 2})
    assert api(client, "post", f"workflows/{workflow.pk}/rerun-failed/", {}).json()["started"] == []  # once each
