"""The workflow pages: list, editor and its JSON endpoints, tabs, executions, and who may reach each.

Executions are started through ``workflows.runs`` inside the test transaction, so no worker ever
picks them up (``on_commit`` never fires): they stay queued unless a test writes their step runs.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership
from components import credentials
from tests.factories import make_component, make_project, make_user, make_workflow
from workflows import runs
from workflows.models import Status, StepRun, StepStatus, Trigger, Workflow, WorkflowExecution

pytestmark = pytest.mark.django_db

NUMBER = {"type": "number", "subtype": "integer"}


@pytest.fixture
def viewer(project):  # type: ignore[no-untyped-def]
    """Victor may only view Alice's project."""
    user = make_user(email="victor@example.com", name="Victor")
    Membership.objects.create(project=project, user=user, permission="view")
    return user


@pytest.fixture
def adder(project, alice):  # type: ignore[no-untyped-def]
    return make_component(
        project=project,
        actor=alice,
        name="Add",
        description="Adds two integers",
        inputs=[{"name": "a", **NUMBER}, {"name": "b", **NUMBER}],
        outputs=[{"name": "sum", **NUMBER}],
    )


@pytest.fixture
def workflow(project, alice, adder):  # type: ignore[no-untyped-def]
    return make_workflow(
        project=project,
        actor=alice,
        name="Sums",
        inputs=[{"name": "x", **NUMBER}, {"name": "flag", "type": "bool"}, {"name": "label", "type": "text"}],
        steps=[
            {"id": "one", "component": adder.pk, "inputs": {"a": "{{ input.x }}", "b": 1}},
            {"id": "two", "component": adder.pk, "inputs": {"a": "{{ steps.one.output.sum }}", "b": 10}},
        ],
        outputs=[{"name": "total", "value": "{{ steps.two.output.sum }}", **NUMBER}],
    )


@pytest.fixture
def execution(workflow, alice):  # type: ignore[no-untyped-def]
    return runs.execution_start(workflow=workflow, inputs={"x": 5, "flag": True, "label": "l"}, user=alice)


def finished(execution: WorkflowExecution) -> WorkflowExecution:
    """The execution as if a worker had run both steps."""
    now = timezone.now()
    for index, (step, inputs, outputs) in enumerate(
        [("one", {"a": 5, "b": 1}, {"sum": 6}), ("two", {"a": 6, "b": 10}, {"sum": 16})]
    ):
        StepRun.objects.create(
            execution=execution,
            step=step,
            status=StepStatus.SUCCEEDED,
            idempotency_key=f"wf{execution.pk}-{step}-0",
            inputs=inputs,
            outputs=outputs,
            logs=[f"adding in {step}"],
            started_at=now + timedelta(seconds=index),
            finished_at=now + timedelta(seconds=index, milliseconds=40),
            duration_ms=40,
        )
    WorkflowExecution.objects.filter(pk=execution.pk).update(
        status=Status.SUCCEEDED, outputs={"total": 16}, started_at=now, finished_at=now, duration_ms=120
    )
    execution.refresh_from_db()
    return execution


def post_json(client, name: str, pk: int, body: object):  # type: ignore[no-untyped-def]
    return client.post(reverse(name, args=[pk]), data=json.dumps(body), content_type="application/json")


# --- access, for every page and every write --------------------------------------------------

WORKFLOW_PAGES = (
    "workflows_editor",
    "workflows_versions",
    "workflows_settings",
    "workflows_triggers",
    "workflows_export",
    "workflows_executions",
    "workflows_executions_rows",
)
EXECUTION_PAGES = ("workflows_execution", "workflows_execution_timeline", "workflows_execution_progress")
PROJECT_PAGES = ("workflows_project_list", "workflows_project_executions", "workflows_project_executions_rows")
WORKFLOW_WRITES = (
    "workflows_definition",
    "workflows_publish",
    "workflows_settings",
    "workflows_duplicate",
    "workflows_delete",
    "workflows_rerun_failed",
)
EXECUTION_WRITES = ("workflows_execution_cancel", "workflows_execution_replay", "workflows_execution_restart")


def _pages(workflow: Workflow, execution: WorkflowExecution) -> list[str]:
    return [
        *(reverse(name, args=[workflow.pk]) for name in WORKFLOW_PAGES),
        reverse("workflows_schedule_preview", args=[workflow.pk]) + "?cron=0+9+*+*+*",
        *(reverse(name, args=[execution.pk]) for name in EXECUTION_PAGES),
        *(reverse(name, args=[workflow.project_id]) for name in PROJECT_PAGES),
    ]


@pytest.mark.parametrize("who", ["alice", "bob", "viewer"])
def test_every_member_reads_every_page(client, request, workflow, execution, who):  # type: ignore[no-untyped-def]
    client.force_login(request.getfixturevalue(who))
    for url in _pages(workflow, execution):
        assert client.get(url).status_code == 200, url


def test_an_outsider_gets_404_on_every_page(client, workflow, execution, charlie):  # type: ignore[no-untyped-def]
    client.force_login(charlie)
    for url in _pages(workflow, execution):
        assert client.get(url).status_code == 404, url
    assert client.get(reverse("workflows_delete", args=[workflow.pk])).status_code == 404


def test_an_outsider_gets_404_on_every_write(client, workflow, execution, charlie):  # type: ignore[no-untyped-def]
    client.force_login(charlie)
    for name in (*WORKFLOW_WRITES, "workflows_run"):
        assert client.post(reverse(name, args=[workflow.pk]), {"step": "one"}).status_code == 404, name
    for name in EXECUTION_WRITES:
        assert client.post(reverse(name, args=[execution.pk]), {"step": "one"}).status_code == 404, name
    assert Workflow.objects.filter(pk=workflow.pk).exists()
    assert WorkflowExecution.objects.count() == 1


def test_a_viewer_may_not_write(client, workflow, execution, viewer):  # type: ignore[no-untyped-def]
    client.force_login(viewer)
    for name in WORKFLOW_WRITES:
        assert client.post(reverse(name, args=[workflow.pk]), {"step": "one"}).status_code == 403, name
    for name in EXECUTION_WRITES:
        assert client.post(reverse(name, args=[execution.pk]), {"step": "one"}).status_code == 403, name
    assert client.get(reverse("workflows_delete", args=[workflow.pk])).status_code == 403
    assert WorkflowExecution.objects.count() == 1


def test_unknown_ids_are_404(client, bob):  # type: ignore[no-untyped-def]
    client.force_login(bob)
    assert client.get(reverse("workflows_editor", args=[999])).status_code == 404
    assert client.get(reverse("workflows_execution", args=[999])).status_code == 404
    assert client.post(reverse("workflows_run", args=[999])).status_code == 404


def test_pages_need_a_login(client, workflow, execution):  # type: ignore[no-untyped-def]
    for url in _pages(workflow, execution):
        response = client.get(url)
        assert response.status_code == 302, url
        assert reverse("account_login") in response["Location"]


# --- list, create, duplicate, delete ------------------------------------------------------------


def test_it_lists_workflows_grouped_by_the_users_projects(client, workflow, bob, charlie):  # type: ignore[no-untyped-def]
    other = make_project(owner=charlie, name="Charlie's secret")
    make_workflow(project=other, actor=charlie, name="Hidden", steps=[], publish=False)
    client.force_login(bob)
    page = client.get(reverse("workflows_home")).content.decode()
    assert "Sums" in page
    assert "v1" in page
    assert "Hidden" not in page
    assert 'data-synchronise-subscribe="listWorkflows"' in page
    assert f"data-synchronise-params='{{\"project_id\": {workflow.project_id}}}'" in page
    assert reverse("workflows_project_list", args=[workflow.project_id]) in page


def test_the_project_fragment_costs_the_same_queries_whatever_the_number_of_workflows(client, workflow, alice, bob):  # type: ignore[no-untyped-def]
    client.force_login(bob)
    url = reverse("workflows_project_list", args=[workflow.project_id])
    client.get(url)  # warm the session

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    one = queries()
    for index in range(3):
        make_workflow(project=workflow.project, actor=alice, name=f"More {index}", steps=[], publish=False)
    assert queries() == one
    assert client.get(url).content.decode().count('class="title"') == 4


def test_it_creates_a_workflow_and_opens_the_editor(client, project, bob):  # type: ignore[no-untyped-def]
    client.force_login(bob)
    response = client.post(reverse("workflows_create"), {"name": "Nightly", "project": project.pk})
    created = Workflow.objects.get(name="Nightly")
    assert response.status_code == 302
    assert response["Location"] == reverse("workflows_editor", args=[created.pk])
    assert created.created_by == bob


def test_create_names_the_missing_field_and_refuses_a_viewers_project(client, project, viewer, bob):  # type: ignore[no-untyped-def]
    client.force_login(bob)
    response = client.post(reverse("workflows_create"), {"name": "", "project": project.pk})
    assert response.status_code == 400
    assert "name" in response.context["form"].errors
    client.force_login(viewer)
    response = client.post(reverse("workflows_create"), {"name": "Nope", "project": project.pk})
    assert response.status_code == 400
    assert "project" in response.context["form"].errors
    assert not Workflow.objects.filter(name="Nope").exists()


def test_it_duplicates_and_deletes(client, workflow, bob):  # type: ignore[no-untyped-def]
    client.force_login(bob)
    response = client.post(reverse("workflows_duplicate", args=[workflow.pk]))
    copy = Workflow.objects.get(name="Sums (copy)")
    assert response["Location"] == reverse("workflows_editor", args=[copy.pk])
    assert copy.definition["steps"] == workflow.definition["steps"]
    assert "cannot be undone" in client.get(reverse("workflows_delete", args=[copy.pk])).content.decode()
    assert client.post(reverse("workflows_delete", args=[copy.pk])).status_code == 302
    assert not Workflow.objects.filter(pk=copy.pk).exists()


# --- the editor ----------------------------------------------------------------------------------


def _config(response) -> dict:  # type: ignore[no-untyped-def]
    return response.context["editor_config"]


def test_the_editor_embeds_the_catalog_with_published_versions_only_choosable(client, workflow, project, alice, bob):  # type: ignore[no-untyped-def]
    make_component(project=project, actor=alice, name="Draft only", publish=False)
    client.force_login(bob)
    response = client.get(reverse("workflows_editor", args=[workflow.pk]))
    page = response.content.decode()
    assert 'id="workflow-config"' in page
    assert "vendor/dagre/dagre.min.js" in page
    catalog = {entry["name"]: entry for entry in _config(response)["catalog"]}
    assert catalog["Add"]["latest"] == 1
    assert catalog["Add"]["versions"] == [1]
    assert catalog["Add"]["description"] == "Adds two integers"
    assert catalog["Draft only"]["latest"] is None
    assert _config(response)["canEdit"] is True
    assert "Add step" in page
    assert "Publish version" in page


def test_the_picker_offers_only_type_compatible_sources_and_no_downstream_step(client, workflow, bob):  # type: ignore[no-untyped-def]
    client.force_login(bob)
    state = _config(client.get(reverse("workflows_editor", args=[workflow.pk])))["state"]
    values = {name: [o["value"] for o in options] for name, options in state["candidates"]["steps"]["two"].items()}
    # number ← number input and one's sum; a bool or a text is no number
    assert "{{ input.x }}" in values["a"]
    assert "{{ steps.one.output.sum }}" in values["a"]
    assert "{{ input.flag }}" not in values["a"]
    assert "{{ input.label }}" not in values["a"]
    # one runs before two: two's outputs are not offered to one (that would be a cycle)
    one = [o["value"] for o in state["candidates"]["steps"]["one"]["a"]]
    assert not any("steps.two" in value for value in one)
    assert not any("steps.one" in value for value in one)
    labels = [o["label"] for o in state["candidates"]["steps"]["two"]["a"]]
    assert "one.sum (number/integer)" in labels
    assert state["interfaces"]["one"]["inputs"][0]["name"] == "a"
    assert "{{ steps.two.output.sum }}" in [o["value"] for o in state["candidates"]["outputs"]["total"]]


def test_a_step_id_with_a_dash_is_offered_in_brackets_and_the_binding_holds(client, project, alice, bob):  # type: ignore[no-untyped-def]
    # Jinja alone reads "steps.acme-whoami.output.login" as "steps.acme minus whoami…"; the
    # expressions rewrite it to the bracket form, which the picker offers.
    whoami = make_component(
        project=project, actor=alice, name="Acme whoami", outputs=[{"name": "login", "type": "text"}]
    )
    workflow = make_workflow(
        project=project,
        actor=alice,
        steps=[{"id": "acme-whoami", "component": whoami.pk}],
        outputs=[{"name": "login", "type": "text", "value": "{{ steps.acme-whoami.output.login }}"}],
        publish=False,
    )
    client.force_login(bob)
    state = _config(client.get(reverse("workflows_editor", args=[workflow.pk])))["state"]
    assert state["problems"] == []
    value = '{{ steps["acme-whoami"].output.login }}'
    assert [o["value"] for o in state["candidates"]["outputs"]["login"]] == [value]
    definition = {**workflow.definition, "outputs": [{"name": "login", "type": "text", "value": value}]}
    response = post_json(client, "workflows_definition", workflow.pk, {"definition": definition})
    assert response.status_code == 200
    assert response.json()["problems"] == []


def test_secret_inputs_are_offered_the_projects_credentials(client, project, alice, bob):  # type: ignore[no-untyped-def]
    credentials.credential_set(project=project, actor=alice, name="API_TOKEN", value="s3cret")
    caller = make_component(
        project=project, actor=alice, name="Caller", inputs=[{"name": "token", "type": "secret"}], outputs=[]
    )
    workflow = make_workflow(
        project=project, actor=alice, steps=[{"id": "call", "component": caller.pk}], publish=False
    )
    client.force_login(bob)
    state = _config(client.get(reverse("workflows_editor", args=[workflow.pk])))["state"]
    assert state["candidates"]["steps"]["call"]["token"] == [
        {"value": "{{ secrets.API_TOKEN }}", "label": "secrets.API_TOKEN", "group": "Credentials"}
    ]
    assert "s3cret" not in client.get(reverse("workflows_editor", args=[workflow.pk])).content.decode()


def test_inputs_that_name_credentials_are_offered_only_what_validation_allows(client, project, alice, bob):  # type: ignore[no-untyped-def]
    credentials.credential_set(project=project, actor=alice, name="API_TOKEN", value="s3cret")
    caller = make_component(
        project=project,
        actor=alice,
        name="Caller",
        inputs=[{"name": "token", "type": "secret"}, {"name": "keys", "type": "list", "subtype": "secret"}],
        outputs=[{"name": "anything", "type": "json"}, {"name": "token", "type": "text"}],
    )
    workflow = make_workflow(
        project=project,
        actor=alice,
        inputs=[
            {"name": "key", "type": "secret"},
            {"name": "keys", "type": "list", "subtype": "secret"},
            {"name": "note", "type": "text"},
            {"name": "body", "type": "json"},
        ],
        steps=[
            {"id": "first", "component": caller.pk, "inputs": {"token": "{{ secrets.API_TOKEN }}", "keys": []}},
            {"id": "call", "component": caller.pk, "after": ["first"]},
        ],
        publish=False,
    )
    client.force_login(bob)
    offered = _config(client.get(reverse("workflows_editor", args=[workflow.pk])))["state"]["candidates"]["steps"]
    assert [o["value"] for o in offered["call"]["token"]] == ["{{ secrets.API_TOKEN }}", "{{ input.key }}"]
    assert [o["value"] for o in offered["call"]["keys"]] == ["{{ input.keys }}"]  # not the json ones


def test_a_viewer_sees_the_editor_read_only(client, workflow, viewer):  # type: ignore[no-untyped-def]
    client.force_login(viewer)
    response = client.get(reverse("workflows_editor", args=[workflow.pk]))
    page = response.content.decode()
    assert _config(response)["canEdit"] is False
    assert "Add step" not in page
    assert "Publish version" not in page
    assert "Delete…" not in page
    assert "read only" in page
    assert "Run the draft" not in page  # the draft runs for editors only


def test_saving_the_definition_returns_problems_and_candidates(client, workflow, adder, bob):  # type: ignore[no-untyped-def]
    client.force_login(bob)
    definition = {
        **workflow.definition,
        "steps": [
            *workflow.definition["steps"],
            {
                "id": "three",
                "component": adder.pk,
                "inputs": {"a": "{{ input.flag }}", "b": "{{ steps.nope.output.x }}"},
            },
        ],
    }
    response = post_json(client, "workflows_definition", workflow.pk, {"definition": definition})
    assert response.status_code == 200
    state = response.json()
    problems = {(p["step"], p["field"]) for p in state["problems"]}
    assert ("three", "inputs.a") in problems  # a bool cannot be bound to a number
    assert ("three", "inputs.b") in problems  # no step named nope
    assert "three" in state["candidates"]["steps"]
    workflow.refresh_from_db()
    assert [s["id"] for s in workflow.definition["steps"]] == ["one", "two", "three"]
    assert workflow.problems == state["problems"]


def test_a_definition_of_the_wrong_shape_is_refused_naming_the_field(client, workflow, bob):  # type: ignore[no-untyped-def]
    client.force_login(bob)
    response = post_json(client, "workflows_definition", workflow.pk, {"steps": [{"id": "Bad Id", "component": 1}]})
    assert response.status_code == 400
    assert any(key.startswith("steps[0].id") for key in response.json()["errors"])
    response = client.post(
        reverse("workflows_definition", args=[workflow.pk]), "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"definition": ["the body is not JSON"]}
    workflow.refresh_from_db()
    assert [s["id"] for s in workflow.definition["steps"]] == ["one", "two"]


def test_publish_freezes_a_valid_draft_and_lists_the_problems_of_an_invalid_one(client, workflow, bob):  # type: ignore[no-untyped-def]
    client.force_login(bob)
    response = post_json(client, "workflows_publish", workflow.pk, {"changelog": "second"})
    assert response.status_code == 201
    assert response.json() == {"number": 2, "changelog": "second"}
    broken = {**workflow.definition, "outputs": [{"name": "total", "value": "{{ steps.gone.output.sum }}"}]}
    post_json(client, "workflows_definition", workflow.pk, broken)
    response = post_json(client, "workflows_publish", workflow.pk, {"changelog": "broken"})
    assert response.status_code == 400
    assert response.json()["problems"][0]["field"] == "outputs.total"
    assert workflow.versions.count() == 2
    assert "second" in client.get(reverse("workflows_versions", args=[workflow.pk])).content.decode()


def test_run_starts_the_draft_from_the_editor(client, workflow, bob):  # type: ignore[no-untyped-def]
    client.force_login(bob)
    response = post_json(client, "workflows_run", workflow.pk, {"x": "5", "flag": "true", "label": "hi"})
    assert response.status_code == 202
    execution = WorkflowExecution.objects.get(pk=response.json()["id"])
    assert execution.trigger == Trigger.EDITOR
    assert execution.version is None  # the draft
    assert execution.user == bob
    assert execution.inputs["x"] == 5
    assert response.json()["progress_url"] == reverse("workflows_execution_progress", args=[execution.pk])


def test_run_names_missing_and_wrong_inputs(client, workflow, bob):  # type: ignore[no-untyped-def]
    client.force_login(bob)
    response = post_json(client, "workflows_run", workflow.pk, {"flag": True, "label": "x"})
    assert response.status_code == 400
    assert response.json()["code"] == 102
    assert response.json()["missing"] == ["x"]
    response = post_json(client, "workflows_run", workflow.pk, {"x": "five", "flag": True, "label": "x"})
    assert response.json()["code"] == 101
    assert [item["name"] for item in response.json()["incorrect"]] == ["x"]
    response = post_json(client, "workflows_run", workflow.pk, ["not", "an", "object"])
    assert response.status_code == 400


def test_run_refuses_a_draft_with_problems(client, workflow, bob):  # type: ignore[no-untyped-def]
    client.force_login(bob)
    post_json(
        client,
        "workflows_definition",
        workflow.pk,
        {**workflow.definition, "outputs": [{"name": "o", "value": "{{ steps.x.output.y }}"}]},
    )
    response = post_json(client, "workflows_run", workflow.pk, {"x": 1, "flag": True, "label": "l"})
    assert response.status_code == 403
    assert response.json()["code"] == 105


def test_the_draft_runs_for_editors_only_as_in_the_api(client, workflow, viewer, bob):  # type: ignore[no-untyped-def]
    """Viewers run published versions (API, client, webhook); the draft's code is the editors' to try."""
    client.force_login(viewer)
    assert b'data-testid="run-form"' not in client.get(reverse("workflows_editor", args=[workflow.pk])).content
    refused = post_json(client, "workflows_run", workflow.pk, {"x": 1, "flag": True, "label": "l"})
    assert (refused.status_code, refused.json()["code"]) == (403, 105)
    assert not workflow.executions.exists()
    client.force_login(bob)
    assert b'data-testid="run-form"' in client.get(reverse("workflows_editor", args=[workflow.pk])).content
    assert post_json(client, "workflows_run", workflow.pk, {"x": 1, "flag": True, "label": "l"}).status_code == 202


# --- settings, triggers, export -----------------------------------------------------------------


def test_settings_change_the_limits_and_the_default_retry(client, workflow, bob):  # type: ignore[no-untyped-def]
    client.force_login(bob)
    data = {
        "name": "Sums v2",
        "description": "Adds up",
        "concurrency_limit": "2",
        "rate_limit_per_minute": "30",
        "timeout_seconds": "600",
        "retention_days": "7",
        "max_payload_bytes": "4096",
        "retry_attempts": "4",
        "retry_backoff": "0.5",
        "retry_max_delay": "20",
        "step_timeout": "15",
    }
    response = client.post(reverse("workflows_settings", args=[workflow.pk]), data)
    assert response.status_code == 302
    workflow.refresh_from_db()
    assert (workflow.name, workflow.concurrency_limit, workflow.rate_limit_per_minute) == ("Sums v2", 2, 30)
    assert (workflow.timeout_seconds, workflow.retention_days, workflow.max_payload_bytes) == (600, 7, 4096)
    assert workflow.definition["defaults"]["retry"]["attempts"] == 4
    assert workflow.definition["defaults"]["retry"]["max_delay"] == 20
    assert workflow.definition["defaults"]["timeout"] == 15
    assert [s["id"] for s in workflow.definition["steps"]] == ["one", "two"]
    page = client.get(reverse("workflows_settings", args=[workflow.pk])).content.decode()
    assert 'value="4"' in page
    # the editor saves the draft without them: they stay
    editor_body = {key: workflow.definition[key] for key in ("inputs", "steps", "outputs")}
    assert post_json(client, "workflows_definition", workflow.pk, {"definition": editor_body}).status_code == 200
    workflow.refresh_from_db()
    assert workflow.definition["defaults"]["retry"]["attempts"] == 4


def test_settings_name_a_bad_field(client, workflow, bob):  # type: ignore[no-untyped-def]
    client.force_login(bob)
    response = client.post(
        reverse("workflows_settings", args=[workflow.pk]),
        {"name": "x", "timeout_seconds": "0", "retention_days": "1", "max_payload_bytes": "4096",
         "retry_attempts": "99", "retry_backoff": "1", "retry_max_delay": "1"},
    )  # fmt: skip
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"timeout_seconds", "retry_attempts"}


def test_a_viewer_sees_settings_disabled(client, workflow, viewer):  # type: ignore[no-untyped-def]
    client.force_login(viewer)
    page = client.get(reverse("workflows_settings", args=[workflow.pk])).content.decode()
    assert "disabled" in page
    assert "Save settings" not in page


def test_triggers_page_points_its_script_at_the_api(client, workflow, bob):  # type: ignore[no-untyped-def]
    client.force_login(bob)
    response = client.get(reverse("workflows_triggers", args=[workflow.pk]))
    config = response.context["triggers_config"]
    assert config["webhookUrl"] == f"/api/v1/workflows/{workflow.pk}/webhook"
    assert config["scheduleUrl"] == f"/api/v1/workflows/{workflow.pk}/schedule"
    assert config["canEdit"] is True
    assert 'id="triggers-config"' in response.content.decode()


def test_schedule_preview_lists_the_next_runs_or_names_the_bad_field(client, workflow, bob):  # type: ignore[no-untyped-def]
    client.force_login(bob)
    url = reverse("workflows_schedule_preview", args=[workflow.pk])
    response = client.get(url, {"cron": "0 9 * * *", "timezone": "Europe/Paris"})
    assert response.status_code == 200
    runs_ = response.json()["next_runs"]
    assert len(runs_) == 5
    assert all("T09:00:00" in run for run in runs_)
    assert response.json()["description"]
    assert "cron" in client.get(url, {"cron": "every day"}).json()["errors"]
    assert "timezone" in client.get(url, {"cron": "0 9 * * *", "timezone": "Mars/Olympus"}).json()["errors"]


def test_export_fills_in_the_workflow_and_the_key_prefix(client, workflow, bob):  # type: ignore[no-untyped-def]
    client.force_login(bob)
    page = client.get(reverse("workflows_export", args=[workflow.pk])).content.decode()
    assert f"/api/v1/workflows/{workflow.pk}/run" in page
    assert "Bearer sk_…" in page
    assert f"Synchronise.Workflow.run({workflow.pk}," in page
    assert f"client.workflows.run({workflow.pk}," in page
    assert "/workflow/run" in page
    assert f"&quot;id&quot;: {workflow.pk}" in page or f'"id": {workflow.pk}' in page
    link = f"/api/v1/workflows/{workflow.pk}/export/?format=json"
    assert f'href="{link}"' in page
    click = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"  # what a browser's click accepts
    download = client.get(link, HTTP_ACCEPT=click)
    assert download["Content-Type"] == "application/json"
    assert "attachment" in download["Content-Disposition"]
    assert f'href="{link}&amp;components=reference"' in page
    by_reference = client.get(f"{link}&components=reference", HTTP_ACCEPT=click).json()
    embedded = download.json()
    assert [set(entry) for entry in by_reference["components"]] == [{"key", "ref"}]
    assert [set(entry) for entry in embedded["components"]] == [{"key", "embedded"}]


# --- executions -----------------------------------------------------------------------------------


def test_the_executions_tab_lists_and_filters(client, workflow, execution, bob):  # type: ignore[no-untyped-def]
    finished(execution)
    other = runs.execution_start(
        workflow=workflow,
        inputs={"x": 1, "flag": False, "label": "l"},
        trigger=Trigger.EDITOR,
        version="draft",
        user=bob,
    )
    client.force_login(bob)
    url = reverse("workflows_executions", args=[workflow.pk])
    page = client.get(url).content.decode()
    assert f"#{execution.pk}" in page
    assert f"#{other.pk}" in page
    assert 'data-synchronise-subscribe="listWorkflowExecutions"' in page
    assert f'{{"workflow_id": {workflow.pk}}}' in page
    page = client.get(url, {"status": "succeeded"}).content.decode()
    assert f"#{execution.pk}" in page
    assert f"#{other.pk}" not in page
    page = client.get(url, {"trigger": "editor"}).content.decode()
    assert f"#{execution.pk}" not in page
    assert f"#{other.pk}" in page
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    assert "No execution matches" in client.get(url, {"since": tomorrow}).content.decode()
    rows = client.get(reverse("workflows_executions_rows", args=[workflow.pk]), {"status": "succeeded"})
    assert f"#{other.pk}" not in rows.content.decode()
    # the live fragment keeps the filters
    assert "rows/?status=succeeded" in client.get(url, {"status": "succeeded"}).content.decode()


def test_the_project_executions_page_filters_by_workflow(client, workflow, execution, alice, adder, bob):  # type: ignore[no-untyped-def]
    second = make_workflow(
        project=workflow.project,
        actor=alice,
        name="Single",
        steps=[{"id": "s", "component": adder.pk, "inputs": {"a": 1, "b": 2}}],
    )
    again = runs.execution_start(workflow=second, inputs={}, user=alice)
    client.force_login(bob)
    url = reverse("workflows_project_executions", args=[workflow.project_id])
    page = client.get(url).content.decode()
    assert f"#{execution.pk}" in page
    assert f"#{again.pk}" in page
    assert f'{{"project_id": {workflow.project_id}}}' in page
    page = client.get(url, {"workflow": second.pk}).content.decode()
    assert f"#{execution.pk}" not in page
    assert f"#{again.pk}" in page


def test_the_execution_page_shows_each_steps_inputs_outputs_and_logs(client, execution, bob):  # type: ignore[no-untyped-def]
    finished(execution)
    client.force_login(bob)
    page = client.get(reverse("workflows_execution", args=[execution.pk])).content.decode()
    assert 'data-synchronise-subscribe="getWorkflowExecution"' in page
    assert f'{{"id": {execution.pk}}}' in page
    assert page.index('data-step="one"') < page.index('data-step="two"')
    assert "adding in two" in page
    assert "&quot;sum&quot;: 16" in page
    assert "Add v1" in page
    assert "Restart from here" in page
    assert "Replay" in page
    assert "Cancel" not in page  # finished


def test_the_run_progress_fragment_gives_each_steps_status(client, execution, bob):  # type: ignore[no-untyped-def]
    client.force_login(bob)
    url = reverse("workflows_execution_progress", args=[execution.pk])
    page = client.get(url).content.decode()
    assert 'data-finished="false"' in page
    assert 'data-step="one" data-step-status="pending"' in page
    finished(execution)
    page = client.get(url).content.decode()
    assert 'data-finished="true"' in page
    assert 'data-step="two" data-step-status="succeeded"' in page
    assert "&quot;total&quot;: 16" in page


def test_a_viewer_sees_no_execution_buttons(client, execution, viewer):  # type: ignore[no-untyped-def]
    client.force_login(viewer)
    page = client.get(reverse("workflows_execution", args=[execution.pk])).content.decode()
    assert "Replay" not in page
    assert "Restart from here" not in page


def test_cancel_stops_a_queued_execution(client, execution, bob):  # type: ignore[no-untyped-def]
    client.force_login(bob)
    response = client.post(reverse("workflows_execution_cancel", args=[execution.pk]))
    assert response["Location"] == reverse("workflows_execution", args=[execution.pk])
    execution.refresh_from_db()
    assert execution.status == Status.CANCELLED


def test_replay_and_restart_start_new_executions(client, execution, bob):  # type: ignore[no-untyped-def]
    finished(execution)
    client.force_login(bob)
    response = client.post(reverse("workflows_execution_replay", args=[execution.pk]))
    replay = WorkflowExecution.objects.get(source=execution, trigger=Trigger.REPLAY)
    assert response["Location"] == reverse("workflows_execution", args=[replay.pk])
    assert replay.inputs == execution.inputs
    response = client.post(reverse("workflows_execution_restart", args=[execution.pk]), {"step": "two"})
    restart = WorkflowExecution.objects.get(source=execution, trigger=Trigger.RESTART)
    assert response["Location"] == reverse("workflows_execution", args=[restart.pk])
    assert restart.restart_from == "two"
    assert list(StepRun.objects.filter(execution=restart).values_list("step", "reused")) == [("one", True)]


def test_rerun_failures_replays_each_failure_once(client, workflow, execution, bob):  # type: ignore[no-untyped-def]
    WorkflowExecution.objects.filter(pk=execution.pk).update(
        status="failed", error={"code": 201, "message": "boom"}, finished_at=timezone.now()
    )
    client.force_login(bob)
    page = client.get(reverse("workflows_executions", args=[workflow.pk])).content.decode()
    assert reverse("workflows_rerun_failed", args=[workflow.pk]) in page
    response = client.post(reverse("workflows_rerun_failed", args=[workflow.pk]), follow=True)
    assert "Re-running 1 failed execution." in response.content.decode()
    replay = WorkflowExecution.objects.get(source=execution, trigger=Trigger.REPLAY)
    assert replay.inputs == execution.inputs
    response = client.post(reverse("workflows_rerun_failed", args=[workflow.pk]), follow=True)
    assert "No failed execution is left to re-run." in response.content.decode()
    assert WorkflowExecution.objects.filter(source=execution).count() == 1


def test_restart_names_what_is_wrong(client, execution, bob):  # type: ignore[no-untyped-def]
    client.force_login(bob)
    response = client.post(reverse("workflows_execution_restart", args=[execution.pk]), {"step": "one"}, follow=True)
    assert "still running" in response.content.decode()
    finished(execution)
    response = client.post(reverse("workflows_execution_restart", args=[execution.pk]), {"step": "ghost"}, follow=True)
    assert "no step named ghost" in response.content.decode()
    assert WorkflowExecution.objects.count() == 1


def test_the_side_menu_marks_workflows_current(client, workflow, bob):  # type: ignore[no-untyped-def]
    client.force_login(bob)
    page = client.get(reverse("workflows_editor", args=[workflow.pk])).content.decode()
    assert f'href="{reverse("workflows_home")}" aria-current="page"' in page


def test_the_timeline_shows_retries_and_a_failed_step(client, execution, bob):  # type: ignore[no-untyped-def]
    now = timezone.now()
    common = {"execution": execution, "step": "one", "started_at": now, "finished_at": now, "duration_ms": 5}
    StepRun.objects.create(
        **common, attempt=1, status=StepStatus.FAILED, idempotency_key="k1", error={"code": 503, "message": "busy"}
    )
    StepRun.objects.create(
        **common, attempt=2, status=StepStatus.FAILED, idempotency_key="k1", error={"code": 500, "message": "broken"}
    )
    WorkflowExecution.objects.filter(pk=execution.pk).update(
        status=Status.FAILED, error={"code": 500, "message": "broken", "step": "one"}
    )
    client.force_login(bob)
    progress = client.get(reverse("workflows_execution_progress", args=[execution.pk])).content.decode()
    assert 'data-step="one" data-step-status="failed"' in progress
    assert 'data-step="two" data-step-status="not_run"' in progress
    assert "attempt 2" in progress
    assert "500: broken (step one)" in progress
    page = client.get(reverse("workflows_execution", args=[execution.pk])).content.decode()
    assert "1 earlier attempt" in page
    assert "busy" in page
    assert "Never reached." in page
