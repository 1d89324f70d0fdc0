"""Bad input on every run route and list: a 4xx JSON error naming what is wrong, nothing recorded,
nothing counted; and rows already stored that UTF-8 cannot encode do not break the lists."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import DataError, connection
from rest_framework.test import APIClient

from accounts.authentication import PUBLIC_KEY_HEADER
from accounts.models import AccountUsage, ApiKeyKind, ProjectUsage
from components import credentials
from components.models import Component, Execution
from tests.apiclient import make_key, signed_in
from tests.factories import make_component, make_workflow
from workflows.models import WorkflowExecution

pytestmark = pytest.mark.django_db

BIG = "99999999999999999999"  # beyond 64 bits


@pytest.fixture
def component(alice, project) -> Component:  # type: ignore[no-untyped-def]
    return make_component(project=project, actor=alice, name="Echo", public=True)


@pytest.fixture
def workflow(alice, project, component):  # type: ignore[no-untyped-def]
    # One step: a workflow without steps cannot be published.
    steps = [{"id": "echo", "component": component.pk}]
    return make_workflow(project=project, actor=alice, name="Empty", steps=steps, public=True)


@pytest.fixture
def public_client(alice, project) -> APIClient:  # type: ignore[no-untyped-def]
    _key, raw = make_key(project=project, actor=alice, kind=ApiKeyKind.PUBLISHABLE)
    client = APIClient()
    client.credentials(**{f"HTTP_{PUBLIC_KEY_HEADER.upper().replace('-', '_')}": raw})
    return client


def post_raw(client: APIClient, url: str, body: str) -> Any:
    return client.post(url, body, content_type="application/json")


def nothing_recorded() -> None:
    assert Execution.objects.count() == 0
    assert WorkflowExecution.objects.count() == 0
    assert not ProjectUsage.objects.exclude(count=0).exists()
    assert not AccountUsage.objects.exclude(count=0).exists()


def run_routes(component: Component, workflow: Any) -> list[tuple[str, dict[str, Any]]]:
    """(url, extra body fields) of the four run routes."""
    return [
        (f"/api/v1/components/{component.pk}/run?async=1", {}),
        ("/component/run?async=1", {"id": component.pk}),
        (f"/api/v1/workflows/{workflow.pk}/run?async=1", {}),
        ("/workflow/run?async=1", {"id": workflow.pk}),
    ]


def test_a_lone_surrogate_is_refused_with_101_naming_the_input(public_client, component, workflow):
    for url, extra in run_routes(component, workflow):
        body = json.dumps({**extra, "x": "\ud800"})  # the JSON escape: `"\ud800"`
        response = post_raw(public_client, url, body)
        # The original routes answer every failure 500, as the original did (docs/legacy-clients.md).
        assert response.status_code == (400 if url.startswith("/api/") else 500), (url, response.content)
        error = response.json()
        assert error["code"] == 101, (url, error)
        assert error["incorrect"][0]["name"] == "x"
        nested = post_raw(public_client, url, json.dumps({**extra, "deep": {"list": ["ok", "\udfff"]}}))
        assert nested.json()["code"] == 101, nested.json()
        assert "deep.list.1" in nested.json()["message"], nested.json()
        nul = post_raw(public_client, url, json.dumps({**extra, "x": "a\u0000b"}))  # PostgreSQL cannot store it
        assert nul.json()["code"] == 101, nul.json()
    nothing_recorded()


def test_any_json_body_with_a_lone_surrogate_is_a_400_naming_the_field(alice, project, component):
    client = signed_in(alice)
    for text in ("\ud800", "a\u0000b"):
        response = post_raw(client, "/api/v1/components/", json.dumps({"project": project.pk, "name": text}))
        assert response.status_code == 400, response.content
        assert response.json()["incorrect"][0]["name"] == "name"
        patch = client.patch(
            f"/api/v1/components/{component.pk}/", json.dumps({"tags": ["ok", text]}), content_type="application/json"
        )
        assert patch.status_code == 400, patch.content
        assert "tags.1" in patch.json()["message"]
    assert Component.objects.count() == 1
    component.refresh_from_db()
    assert component.tags == []


def test_rows_stored_before_with_a_lone_surrogate_do_not_break_the_lists(alice, project, component, workflow):
    broken = {"x": "\ud800"}
    if connection.vendor == "postgresql":
        # PostgreSQL refuses such text outright: no row like it can exist there.
        with pytest.raises(DataError):
            Execution.objects.create(project=project, component=component, inputs=broken)
        return
    Execution.objects.create(project=project, component=component, inputs=broken, logs=["\udcff"])
    WorkflowExecution.objects.create(project=project, workflow=workflow, plan={}, inputs=broken)
    client = signed_in(alice)
    for url in ("/api/v1/executions/", "/api/v1/workflow-executions/"):
        response = client.get(url)
        assert response.status_code == 200, (url, response.content[:300])
        assert response.json()["results"][0]["inputs"] == {"x": "\ufffd"}
    run = WorkflowExecution.objects.get()
    for page in (f"/workflows/executions/{run.pk}/", f"/workflows/executions/{run.pk}/timeline/"):
        response = client.get(page)
        assert response.status_code == 200, (page, response.content[:300])
        assert "\ufffd" in response.content.decode()
    execution = Execution.objects.get()
    for name, params in (("listExecutions", {"component_id": component.pk}), ("getExecution", {"id": execution.pk})):
        response = client.post(f"/api/v1/cloud/{name}", params, format="json")
        assert response.status_code == 200, (name, response.content[:300])
        assert "\ufffd" in response.content.decode()


@pytest.mark.parametrize("timeout", ["null", "nan", "NaN", "inf", "-1", "x"])
def test_a_bad_timeout_is_a_400_before_anything_is_recorded(alice, component, workflow, timeout):
    client = signed_in(alice)
    for url in (f"/api/v1/components/{component.pk}/run", f"/api/v1/workflows/{workflow.pk}/run"):
        response = client.post(f"{url}?timeout={timeout}", {}, format="json")
        assert response.status_code == 400, (url, response.content)
        assert "timeout" in response.json()["errors"], response.json()
    nothing_recorded()


@pytest.mark.parametrize("body", ["[1]", '"x"', "42", "null", "[]", "true"])
def test_the_original_routes_refuse_a_body_that_is_not_an_object(public_client, component, body):
    for url in ("/component/run", "/workflow/run", f"/api/v1/components/{component.pk}/run"):
        response = post_raw(public_client, url, body)
        # The original routes: 500, their only failure status (docs/legacy-clients.md).
        expected = range(400, 500) if url.startswith("/api/") else [500]
        assert response.status_code in expected, (url, body, response.content)
        assert response.json()["code"] in (101, 103), response.json()
    nothing_recorded()


@pytest.mark.parametrize("depth", [65, 900, 5000])
def test_json_nested_too_deep_is_refused_on_every_run_route(alice, public_client, component, workflow, depth):
    deep = "[" * depth + "]" * depth
    for client in (public_client, signed_in(alice)):
        for url, extra in run_routes(component, workflow):
            fields = "".join(f'"{key}": {value}, ' for key, value in extra.items())
            response = post_raw(client, url, '{%s"x": %s}' % (fields, deep))  # noqa: UP031 - JSON braces
            expected = 400 if url.startswith("/api/") else 500  # the original routes' only failure status
            assert response.status_code == expected, (url, depth, response.content[:200])
            assert response.json()["code"] == 125, response.json()
    nothing_recorded()


def test_json_at_the_limit_is_accepted(alice, component):
    client = signed_in(alice)
    depth = 63  # with the object of inputs: 64 levels
    body = '{"x": ' + "[" * depth + "]" * depth + "}"
    response = post_raw(client, f"/api/v1/components/{component.pk}/run?async=1", body)
    assert response.status_code == 202, response.content[:300]


def test_inputs_nested_too_deep_from_a_webhook_or_cloud_call_are_refused_before_recording(alice, project, workflow):
    from components.errors import RunError
    from workflows import runs

    value: Any = []
    for _ in range(200):
        value = [value]
    with pytest.raises(RunError) as refused:
        runs.execution_start(workflow=workflow, inputs={"x": value}, user=alice)
    assert refused.value.code == 101
    assert refused.value.extra["incorrect"][0]["name"] == "x"
    nothing_recorded()


def test_usage_of_year_zero_is_a_400(alice):
    client = signed_in(alice)
    for month in ("0000-01", "0000-12", "2026-13", "x"):
        response = client.get(f"/api/v1/usage/?month={month}")
        assert response.status_code == 400, (month, response.content)
        assert "month" in response.json()["errors"]
    assert client.get("/api/v1/usage/?month=0001-01").status_code == 200
    assert client.get("/api/v1/usage/?month=9999-12").status_code == 200


def test_integer_filters_beyond_64_bits_are_a_400_on_every_list(alice, project, component, workflow):
    client = signed_in(alice)
    lists = [
        "/api/v1/executions/?component={n}",
        "/api/v1/workflow-executions/?project={n}",
        "/api/v1/workflow-executions/?workflow={n}",
        "/api/v1/workflows/?project={n}",
        "/api/v1/marketplace/components/?publisher={n}",
    ]
    paged = ["/api/v1/components/", "/api/v1/executions/", "/api/v1/workflows/", "/api/v1/workflow-executions/",
             "/api/v1/projects/", "/api/v1/projects/{p}/keys/", "/api/v1/projects/{p}/members/"]  # fmt: skip
    for url in lists:
        response = client.get(url.format(n=BIG))
        assert response.status_code == 400, (url, response.content[:300])
        name = url.split("?")[1].split("=")[0]
        assert name in response.json()["errors"], (url, response.json())
        assert client.get(url.format(n=2**63 - 1)).status_code == 200, url
    for url in (u.format(p=project.pk) for u in paged):
        for param in ("limit", "offset"):
            response = client.get(f"{url}?{param}={BIG}")
            assert response.status_code in (400, 404), (url, param, response.content[:300])
            if response.status_code == 400:
                assert param in response.json()["errors"], (url, response.json())
        assert client.get(f"{url}?limit=5000").status_code in (200, 404), url  # beyond the page size: capped


def test_deleting_a_credential_while_its_project_is_deleted_is_a_404(alice, bob, project):
    credentials.credential_set(project=project, actor=alice, name="TOKEN", value="t0k3n")
    client = signed_in(bob)  # an editor (Alice, the first user, is a superuser: she passes without a membership)
    url = f"/api/v1/projects/{project.pk}/credentials/TOKEN/"
    deleted: list[bool] = []

    def delete_the_project_in_between(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        # The view has found the project; the service now reads the membership. The project's
        # deletion lands in between, as it does when both requests arrive together.
        if not deleted and sql.lstrip().startswith("SELECT") and 'FROM "accounts_membership"' in sql:
            deleted.append(True)
            project.delete()
        return execute(sql, params, many, context)

    with connection.execute_wrapper(delete_the_project_in_between):
        response = client.delete(url)
    assert deleted, "the project was not deleted during the request"
    assert response.status_code == 404, response.content
    assert response.json()["code"] == "not_found"


@pytest.mark.django_db(transaction=True)  # the webhook is an async view: its thread needs committed rows
def test_a_webhook_refuses_deep_json_and_lone_surrogates_before_recording(client, alice, workflow):
    from workflows import triggers

    _webhook, token = triggers.webhook_enable(workflow=workflow, actor=alice, respond="accepted")
    assert token is not None
    path = triggers.webhook_path(workflow.pk, token)
    deep = client.post(path, '{"x": ' + "[" * 900 + "]" * 900 + "}", content_type="application/json")
    assert deep.status_code == 400, deep.content
    assert deep.json()["code"] == 125
    surrogate = client.post(path, json.dumps({"x": "\ud800"}), content_type="application/json")
    assert surrogate.status_code == 400, surrogate.content
    assert surrogate.json()["code"] == 101
    nothing_recorded()
