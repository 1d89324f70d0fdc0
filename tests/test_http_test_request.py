"""The HTTP form's "Send test request": the unsaved spec sent once through the real run path (the
SSRF guard, credential substitution, masking) to a real loopback API, for editors only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.services import usage_of
from components import credentials
from components.models import Component, Execution, Kind
from tests import fake_api
from tests.fake_api import FakeApi

TOKEN = "tok-T3st-s3cret-value"
INPUTS = [{"name": "name", "type": "text"}, {"name": "count", "type": "number"}]
OUTPUTS = [
    {"name": "method", "type": "text"},
    {"name": "greeting", "type": "text"},
    {"name": "status", "type": "number"},
]


@pytest.fixture(autouse=True)
def tripwire(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    return fake_api.loopback_only(monkeypatch)


@pytest.fixture
def api(settings) -> Iterator[FakeApi]:
    with fake_api.serve() as server:
        settings.OUTBOUND_ALLOW = [server.destination]
        yield server


@pytest.fixture
def component(project, bob):
    credentials.credential_set(project=project, actor=bob, name="API_TOKEN", value=TOKEN)
    saved = {"method": "GET", "url": "https://example.com/saved"}
    return Component.objects.create(project=project, name="Greeter", kind=Kind.HTTP, http=saved)


def spec_for(api: FakeApi) -> dict[str, Any]:
    return {
        "method": "POST",
        "url": api.url("/echo"),
        "query": {"lang": "en"},
        "headers": {"X-Trace": "t-1"},
        "body": {"type": "json", "value": {"name": "{{ inputs.name }}", "count": "{{ inputs.count }}"}},
        "auth": {"type": "bearer", "credential": "{{ secrets.API_TOKEN }}"},
        "outputs": {"method": "body.method", "greeting": "body.json.name", "status": "status"},
    }


def send(client: Client, component: Component, body: dict[str, Any]) -> Any:
    return client.post(
        reverse("components_http_test", args=[component.pk]), data=json.dumps(body), content_type="application/json"
    )


def payload(spec: dict[str, Any], values: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"http": spec, "inputs": INPUTS, "outputs": OUTPUTS, "values": values or {"name": "Ada", "count": "3"}}


@pytest.mark.django_db
def test_editor_sends_the_unsaved_spec_and_sees_the_answer(client, bob, component, api):
    client.force_login(bob)
    used_before = usage_of(user=component.project.owner()).used
    answer = send(client, component, payload(spec_for(api)))
    assert answer.status_code == 200, answer.content
    data = answer.json()
    assert data["ok"] is True
    assert data["status"] == 200
    assert data["outputs"] == {"method": "POST", "greeting": "Ada", "status": 200}
    assert data["headers"]["Content-Type"] == "application/json"
    body = json.loads(data["body"])
    assert body["json"] == {"name": "Ada", "count": 3}  # coerced to the declared number type
    assert body["query"] == {"lang": "en"}
    # The credential went to the server, and what came back is masked.
    sent = api.requests[-1]
    assert sent["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert sent["headers"]["Idempotency-Key"].startswith("test-")
    assert TOKEN not in answer.content.decode()
    assert body["headers"]["Authorization"] == "Bearer ••••••"
    assert any(line.startswith("→ POST") for line in data["logs"])
    # Nothing was saved or recorded; the request counts against the plan.
    component.refresh_from_db()
    assert component.http == {"method": "GET", "url": "https://example.com/saved"}
    assert not Execution.objects.filter(component=component).exists()
    assert usage_of(user=component.project.owner()).used == used_before + 1


@pytest.mark.django_db
def test_a_remote_error_shows_its_status_and_body(client, bob, component, api):
    client.force_login(bob)
    spec = {**spec_for(api), "url": api.url("/status/404"), "error_message": "body.error.message"}
    data = send(client, component, payload(spec)).json()
    assert data["ok"] is False
    assert data["status"] == 404
    assert data["error"]["message"] == "failed with 404"
    assert json.loads(data["body"]) == {"error": {"message": "failed with 404"}}


@pytest.mark.django_db
def test_loopback_is_refused_by_the_ssrf_guard(client, bob, component, settings, tripwire):
    with fake_api.serve() as server:
        settings.OUTBOUND_ALLOW = []
        client.force_login(bob)
        data = send(client, component, payload(spec_for(server))).json()
        assert data["ok"] is False
        assert data["error"]["reason"] == "blocked"
        assert data["status"] is None
        assert server.requests == []


@pytest.mark.django_db
def test_an_invalid_spec_lists_each_problem_with_its_field(client, bob, component, api):
    client.force_login(bob)
    spec = {"method": "TRACE", "url": "ftp://x.test/", "headers": {"Bad Header": "x"}, "outputs": {"nope": "body"}}
    answer = send(client, component, payload(spec))
    assert answer.status_code == 400
    problems = answer.json()["errors"]["http"]
    assert [p.split(":")[0] for p in problems] == ["headers.Bad Header", "method", "url", "outputs.nope"]
    assert api.requests == []


@pytest.mark.django_db
def test_missing_and_wrong_inputs_are_102_and_101(client, bob, component, api):
    client.force_login(bob)
    missing = send(client, component, payload(spec_for(api), {"count": "3"}))
    assert missing.status_code == 400
    assert missing.json()["code"] == 102
    assert missing.json()["missing"] == ["name"]
    wrong = send(client, component, payload(spec_for(api), {"name": "Ada", "count": "three"}))
    assert wrong.json()["code"] == 101
    assert api.requests == []


@pytest.mark.django_db
def test_owner_may_send(client, alice, component, api):
    client.force_login(alice)
    assert send(client, component, payload(spec_for(api))).status_code == 200


@pytest.mark.django_db
def test_it_rejects_a_viewer(client, viewer, component, api):
    client.force_login(viewer)
    answer = send(client, component, payload(spec_for(api)))
    assert answer.status_code == 403
    assert answer.json()["code"] == "permission_denied"
    assert api.requests == []


@pytest.mark.django_db
def test_it_hides_the_component_from_an_outsider(client, charlie, component, api):
    client.force_login(charlie)
    answer = send(client, component, payload(spec_for(api)))
    assert answer.status_code == 404
    assert api.requests == []


@pytest.mark.django_db
def test_a_body_that_is_not_an_object_is_a_400(client, bob, component):
    client.force_login(bob)
    answer = client.post(
        reverse("components_http_test", args=[component.pk]), data="[1]", content_type="application/json"
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid"
