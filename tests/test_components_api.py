"""The components API: editing, versions, access for members, keys and outsiders."""

from __future__ import annotations

import pytest

from accounts import services as account_services
from components import services
from components.models import Component, ComponentVersion
from tests.apiclient import with_secret_key
from tests.factories import make_project

pytestmark = pytest.mark.django_db

CODE = "def run(inputs, ctx):\n    return {'sum': inputs['a'] + inputs['b']}\n"
INPUTS = [{"name": "a", "type": "number"}, {"name": "b", "type": "number"}]
OUTPUTS = [{"name": "sum", "type": "number"}]


@pytest.fixture
def component(alice, project):  # type: ignore[no-untyped-def]
    return services.component_create(
        project=project, actor=alice, name="Add", kind="code", code=CODE, inputs=INPUTS, outputs=OUTPUTS
    )


def api(client, method, path, data=None, **headers):  # type: ignore[no-untyped-def]
    return getattr(client, method)(f"/api/v1/{path}", data, content_type="application/json", **headers)


def test_an_editor_creates_a_component(client, bob, project):
    client.force_login(bob)
    response = api(client, "post", "components/", {"project": project.pk, "name": "Echo", "inputs": INPUTS})
    assert response.status_code == 201, response.json()
    assert Component.objects.get(pk=response.json()["id"]).created_by == bob


def test_bad_interfaces_name_the_field(client, bob, project):
    client.force_login(bob)
    response = api(client, "post", "components/", {"project": project.pk, "name": "X", "inputs": [{"name": "a"}]})
    assert response.status_code == 400
    assert "inputs" in response.json()["errors"]


def test_it_rejects_outsider(client, charlie, component):
    client.force_login(charlie)
    assert api(client, "get", f"components/{component.pk}/").status_code == 404
    assert api(client, "patch", f"components/{component.pk}/", {"name": "Mine"}).status_code == 404
    assert api(client, "delete", f"components/{component.pk}/").status_code == 404
    assert api(client, "post", f"components/{component.pk}/publish/").status_code == 404
    assert api(client, "post", f"components/{component.pk}/run", {"a": 1, "b": 2}).json()["code"] == 104
    assert api(client, "get", "components/").json()["results"] == []
    response = api(client, "post", "components/", {"project": component.project_id, "name": "Sneaky"})
    assert response.status_code == 400


def test_a_viewer_reads_but_cannot_edit(client, alice, charlie, component):
    account_services.member_invite(project=component.project, actor=alice, email=charlie.email, permission="view")
    client.force_login(charlie)
    assert api(client, "get", f"components/{component.pk}/").status_code == 200
    assert api(client, "patch", f"components/{component.pk}/", {"name": "Mine"}).status_code == 403
    assert api(client, "post", f"components/{component.pk}/publish/").status_code == 403
    component.refresh_from_db()
    assert component.name == "Add"


def test_publishing_freezes_a_version(client, bob, component):
    client.force_login(bob)
    response = api(client, "post", f"components/{component.pk}/publish/", {"changelog": "first"})
    assert response.status_code == 201
    assert response.json()["number"] == 1
    api(client, "patch", f"components/{component.pk}/", {"code": "def run(inputs, ctx):\n    return {}\n"})
    version = ComponentVersion.objects.get(component=component, number=1)
    assert version.code == CODE
    assert api(client, "get", f"components/{component.pk}/").json()["latest_version"] == 1


def test_code_with_a_syntax_error_saves_but_does_not_publish(client, bob, component):
    client.force_login(bob)
    broken = "def run(inputs, ctx):\n    return {'x': }\n"
    assert api(client, "patch", f"components/{component.pk}/", {"code": broken}).status_code == 200
    response = api(client, "post", f"components/{component.pk}/publish/")
    assert response.status_code == 400
    assert "line 2" in response.json()["errors"]["code"][0]


def test_syntax_error_reports_line_and_column():
    assert services.syntax_error("x = (1,\n") is not None
    error = services.syntax_error("def run(inputs, ctx):\n    return {'x': }\n")
    assert error is not None
    assert error["line"] == 2
    assert error["col"] > 1
    assert services.syntax_error(CODE) is None


def test_duplicate_and_delete(client, bob, component):
    client.force_login(bob)
    copy = api(client, "post", f"components/{component.pk}/duplicate/").json()
    assert copy["name"] == "Add (copy)"
    assert copy["code"] == CODE
    assert api(client, "delete", f"components/{copy['id']}/").status_code == 204
    assert not Component.objects.filter(pk=copy["id"]).exists()


def test_a_secret_key_sees_only_its_project(client, alice, component):
    from tests.factories import make_project

    other = make_project(owner=alice, name="Other")
    elsewhere = services.component_create(project=other, actor=alice, name="Elsewhere")
    _key, raw = account_services.api_key_create(project=component.project, actor=alice)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    names = [c["name"] for c in api(client, "get", "components/", **auth).json()["results"]]
    assert names == ["Add"]
    assert api(client, "get", f"components/{elsewhere.pk}/", **auth).status_code == 404


def test_bad_inputs_are_101_and_102_and_recorded(client, bob, component):
    client.force_login(bob)
    wrong = api(client, "post", f"components/{component.pk}/run?version=draft", {"a": "one", "b": 2})
    assert wrong.status_code == 400
    assert wrong.json()["code"] == 101
    assert wrong.json()["incorrect"] == [{"name": "a", "expected": "number", "given": "text 'one'"}]
    missing = api(client, "post", f"components/{component.pk}/run?version=draft", {"a": 1})
    assert missing.json()["code"] == 102
    assert missing.json()["missing"] == ["b"]
    assert component.executions.filter(status="failed").count() == 2


def test_a_never_published_component_runs_only_as_a_draft(client, bob, component):
    client.force_login(bob)
    response = api(client, "post", f"components/{component.pk}/run", {"a": 1, "b": 2})
    assert response.status_code == 404
    assert response.json()["code"] == 104


def test_the_draft_runs_only_for_editors(client, alice, charlie, component):
    account_services.member_invite(project=component.project, actor=alice, email=charlie.email, permission="view")
    client.force_login(charlie)
    response = api(client, "post", f"components/{component.pk}/run?version=draft", {"a": 1, "b": 2})
    assert response.status_code == 403
    assert response.json()["code"] == 105


def test_over_quota_is_429_with_code_108(client, alice, bob, component):
    from accounts.models import Plan

    services.component_publish(component=component, actor=alice)
    account_services.user_set_plan(user=alice, plan=Plan.objects.create(name="Tiny", slug="tiny", monthly_quota=0))
    client.force_login(bob)
    response = api(client, "post", f"components/{component.pk}/run?async=1", {"a": 1, "b": 2})
    assert response.status_code == 429
    assert response.json()["code"] == 108


def test_legacy_route_needs_an_id(client, alice, component):
    _key, raw = account_services.api_key_create(project=component.project, actor=alice, kind="publishable")
    headers = {"HTTP_X_SYNCHRONISE_PUBLIC_KEY": raw}
    response = client.post("/component/run", {"a": 1}, content_type="application/json", **headers)
    assert response.status_code == 500  # every failure, as the original (docs/legacy-clients.md)
    assert response.json()["code"] == 103
    response = client.post("/component/run", {"id": 999999}, content_type="application/json", **headers)
    assert response.json()["code"] == 104


def test_a_publishable_key_runs_only_public_components(client, alice, component):
    services.component_publish(component=component, actor=alice)
    _key, raw = account_services.api_key_create(project=component.project, actor=alice, kind="publishable")
    headers = {"HTTP_X_SYNCHRONISE_PUBLIC_KEY": raw}
    body = {"id": component.pk, "a": 1, "b": 2}
    private = client.post("/component/run?async=1", body, content_type="application/json", **headers)
    assert private.json()["code"] == 104
    services.component_update(component=component, actor=alice, public=True)
    public = client.post("/component/run?async=1", body, content_type="application/json", **headers)
    assert public.status_code == 202
    assert public.json()["status"] == "queued"
    # …and cannot edit anything.
    assert api(client, "get", "components/", **headers).status_code == 401


def test_credentials_are_write_only_and_members_only(client, alice, bob, charlie, project):
    client.force_login(bob)
    created = api(client, "post", f"projects/{project.pk}/credentials/", {"name": "STRIPE_KEY", "value": "sk_live_123"})
    assert created.status_code == 201
    assert "value" not in created.json()
    listed = api(client, "get", f"projects/{project.pk}/credentials/")
    assert [c["name"] for c in listed.json()] == ["STRIPE_KEY"]
    assert "sk_live_123" not in listed.content.decode()
    bad = api(client, "post", f"projects/{project.pk}/credentials/", {"name": "lower", "value": "x"})
    assert bad.status_code == 400
    assert "name" in bad.json()["errors"]

    client.force_login(charlie)
    assert api(client, "get", f"projects/{project.pk}/credentials/").status_code == 404
    assert api(client, "post", f"projects/{project.pk}/credentials/", {"name": "X", "value": "y"}).status_code == 404
    assert api(client, "delete", f"projects/{project.pk}/credentials/STRIPE_KEY/").status_code == 404

    client.force_login(bob)
    assert api(client, "delete", f"projects/{project.pk}/credentials/STRIPE_KEY/").status_code == 204
    assert api(client, "get", f"projects/{project.pk}/credentials/").json() == []


def test_validation_roles_may_run_any_component(client, alice, charlie, component):
    from django.contrib.auth.models import Group

    services.component_publish(component=component, actor=alice)
    client.force_login(charlie)
    assert api(client, "post", f"components/{component.pk}/run?async=1", {"a": 1, "b": 2}).json()["code"] == 104
    charlie.groups.add(Group.objects.get(name="marketplace_validation"))
    response = api(client, "post", f"components/{component.pk}/run?async=1", {"a": 1, "b": 2})
    assert response.status_code == 202
    assert api(client, "get", f"components/{component.pk}/").status_code == 404  # runs, but does not browse

    # A secret key of charlie's own project acts for charlie, but reaches that project only.
    own = make_project(owner=charlie, name="Charlie's")
    _key, raw = account_services.api_key_create(project=own, actor=charlie)
    keyed = api(with_secret_key(raw), "post", f"components/{component.pk}/run?async=1", {"a": 1, "b": 2})
    assert (keyed.status_code, keyed.json()["code"]) == (404, 104)


def test_a_version_that_is_not_a_number_is_unknown(client, bob, component):
    client.force_login(bob)
    response = api(client, "post", f"components/{component.pk}/run?version=abc", {"a": 1, "b": 2})
    assert response.status_code == 404
    assert response.json()["code"] == 104
