"""Cloud functions over HTTP: same semantics and permission checks as over the WebSocket."""

from __future__ import annotations

import pytest

from accounts import services

pytestmark = pytest.mark.django_db


def call(client, name, body=None, **headers):  # type: ignore[no-untyped-def]
    return client.post(f"/api/v1/cloud/{name}", body or {}, content_type="application/json", **headers)


def test_a_member_reads_a_project(client, alice, project):
    client.force_login(alice)
    response = call(client, "getProject", {"id": project.pk})
    assert response.status_code == 200
    assert response.json()["name"] == project.name
    assert response.json()["permission"] == "own"


def test_it_rejects_outsider(client, charlie, project):
    client.force_login(charlie)
    response = call(client, "getProject", {"id": project.pk})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_anonymous_callers_get_401(client, project):
    response = call(client, "projectList")
    assert response.status_code == 401


def test_bad_parameters_are_named(client, alice):
    client.force_login(alice)
    response = call(client, "getProject", {"id": "seven"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_params"
    assert "id" in response.json()["errors"]


def test_unknown_function_suggests(client, alice):
    client.force_login(alice)
    response = call(client, "getProjct")
    assert response.status_code == 404
    assert response.json()["suggestions"] == ["getProject"]


def test_a_viewer_cannot_update(client, alice, charlie, project):
    services.member_invite(project=project, actor=alice, email=charlie.email, permission="view")
    client.force_login(charlie)
    response = call(client, "createOrUpdateProject", {"id": project.pk, "name": "Mine now"})
    assert response.status_code == 403
    project.refresh_from_db()
    assert project.name == "Alice's project"


def test_an_editor_renames_through_the_service(client, bob, project):
    client.force_login(bob)
    response = call(client, "createOrUpdateProject", {"id": project.pk, "name": "Renamed"})
    assert response.status_code == 200
    project.refresh_from_db()
    assert project.name == "Renamed"


def test_a_secret_key_reaches_only_its_project(client, alice, project):
    from tests.factories import make_project

    other = make_project(owner=alice, name="Other")
    _key, raw = services.api_key_create(project=project, actor=alice)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    assert call(client, "getProject", {"id": project.pk}, **auth).status_code == 200
    assert call(client, "getProject", {"id": other.pk}, **auth).status_code == 404
    assert [p["id"] for p in call(client, "projectList", **auth).json()] == [project.pk]
