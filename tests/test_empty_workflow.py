"""A workflow without steps is not a success waiting to happen (issue 15): the definition has the
problem "add at least one step", so it cannot be published or run, from any trigger."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from components.errors import RunError
from tests.apiclient import API
from tests.factories import make_component, make_workflow
from workflows import runs, services
from workflows.models import Trigger, WorkflowExecution, WorkflowVersion

pytestmark = pytest.mark.django_db

NO_STEPS = "add at least one step: a workflow without steps has nothing to run"


@pytest.fixture
def empty(alice, project):  # type: ignore[no-untyped-def]
    return make_workflow(project=project, actor=alice, name="Empty", steps=[], publish=False, public=True)


@pytest.fixture
def emptied(alice, project, empty):  # type: ignore[no-untyped-def]
    """A workflow whose published version 1 has no steps, as could be published before this rule."""
    WorkflowVersion.objects.create(workflow=empty, number=1, definition=empty.definition, created_by=alice)
    return empty


def test_the_definition_has_the_problem(client, bob, empty):  # type: ignore[no-untyped-def]
    assert empty.problems == [{"step": None, "field": "steps", "message": NO_STEPS}]
    client.force_login(bob)
    answer = client.post(f"{API}/workflows/{empty.pk}/validate/", {}, content_type="application/json").json()
    assert (answer["is_valid"], answer["problems"]) == (False, empty.problems)


def test_it_cannot_be_published(client, alice, bob, empty):  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError, match="add at least one step"):
        services.workflow_publish(workflow=empty, actor=alice)
    client.force_login(bob)
    answer = client.post(f"{API}/workflows/{empty.pk}/publish/", {}, content_type="application/json")
    assert answer.status_code == 400
    assert NO_STEPS in answer.content.decode()
    assert not empty.versions.exists()


def test_adding_a_step_clears_the_problem(alice, project, empty):  # type: ignore[no-untyped-def]
    component = make_component(project=project, actor=alice, name="Noop")
    steps = [{"id": "noop", "component": component.pk, "inputs": {}}]
    services.workflow_update(workflow=empty, actor=alice, definition={"steps": steps})
    assert empty.problems == []
    assert services.workflow_publish(workflow=empty, actor=alice).number == 1


def test_the_draft_run_is_refused(client, bob, empty):  # type: ignore[no-untyped-def]
    client.force_login(bob)
    answer = client.post(f"{API}/workflows/{empty.pk}/run?version=draft", {}, content_type="application/json")
    assert answer.status_code == 403
    assert answer.json()["code"] == 105
    assert NO_STEPS in answer.json()["message"]


def test_every_trigger_refuses_a_published_empty_version(client, alice, bob, emptied):  # type: ignore[no-untyped-def]
    client.force_login(bob)
    api = client.post(f"{API}/workflows/{emptied.pk}/run", {}, content_type="application/json")
    assert (api.status_code, api.json()["code"]) == (403, 105)
    assert NO_STEPS in api.json()["message"]
    with pytest.raises(RunError, match="add at least one step") as refused:
        runs.execution_start(workflow=emptied, inputs={}, trigger=Trigger.SCHEDULE)
    assert refused.value.code == 105
    assert not WorkflowExecution.objects.filter(workflow=emptied, status="succeeded").exists()


@pytest.mark.django_db(transaction=True)  # the webhook view is async: it reads committed rows
def test_the_webhook_and_the_legacy_route_refuse_it(alice, project, emptied):  # type: ignore[no-untyped-def]
    from accounts import services as account_services
    from workflows.triggers import webhook_enable, webhook_path

    _, token = webhook_enable(workflow=emptied, actor=alice)
    hook = Client().post(webhook_path(emptied.pk, token or ""), {}, content_type="application/json")
    assert (hook.status_code, hook.json()["code"]) == (403, 105)
    assert NO_STEPS in hook.json()["message"]
    _key, raw = account_services.api_key_create(project=project, actor=alice, kind="publishable")
    legacy = Client().post(
        "/workflow/run", {"id": emptied.pk}, content_type="application/json", HTTP_X_SYNCHRONISE_PUBLIC_KEY=raw
    )
    assert (legacy.status_code, legacy.json()["code"]) == (500, 105)  # every failure, as the original
    assert NO_STEPS in legacy.json()["message"]
    assert not WorkflowExecution.objects.filter(workflow=emptied, status="succeeded").exists()


def test_a_replay_of_an_empty_plan_is_refused(alice, emptied):  # type: ignore[no-untyped-def]
    old = WorkflowExecution.objects.create(
        project=emptied.project, workflow=emptied, plan={"inputs": [], "steps": [], "outputs": []},
        status="succeeded", trigger=Trigger.API, inputs={},
    )  # fmt: skip
    with pytest.raises(RunError, match="add at least one step"):
        runs.execution_replay(execution=old, actor=alice)
