from __future__ import annotations

import pytest

from accounts.models import Membership, Permission, Project
from tests.apiclient import API, anonymous, make_key, project_url, signed_in, with_secret_key
from tests.factories import make_project

pytestmark = pytest.mark.django_db

# Every project endpoint, as (method, URL suffix under the project, body).
PROJECT_ENDPOINTS = [
    ("get", "", None),
    ("patch", "", {"name": "Renamed"}),
    ("delete", "", {"confirm_name": "Alice's project"}),
    ("post", "transfer/", {"user": "charlie@example.com"}),
    ("post", "join/", None),
]


def call(client, method: str, url: str, body: dict | None = None):  # type: ignore[no-untyped-def]
    return getattr(client, method)(url, body, format="json")


# --- access -------------------------------------------------------------------------------


def test_it_requires_authentication(project):
    assert anonymous().get(f"{API}/projects/").status_code == 401
    assert anonymous().post(f"{API}/projects/", {"name": "x"}, format="json").status_code == 401
    assert anonymous().get(project_url(project)).status_code == 401


@pytest.mark.parametrize(("method", "suffix", "body"), PROJECT_ENDPOINTS)
def test_it_rejects_outsider(project, charlie, method, suffix, body):
    response = call(signed_in(charlie), method, project_url(project, suffix), body)
    assert response.status_code == 404
    assert Project.objects.filter(pk=project.pk, name="Alice's project").exists()
    assert project.permission_of(charlie) is None


def test_it_lists_only_projects_the_user_is_a_member_of(project, alice, bob, charlie):
    make_project(owner=charlie, name="Charlie's project")

    def names(user):  # type: ignore[no-untyped-def]
        return [p["name"] for p in signed_in(user).get(f"{API}/projects/").json()["results"]]

    assert names(alice) == ["Alice's project"]
    assert names(bob) == ["Alice's project"]
    assert names(charlie) == ["Charlie's project"]


def test_list_shows_the_requesters_permission_and_the_owner(project, alice, bob):
    body = signed_in(bob).get(f"{API}/projects/").json()
    assert body["count"] == 1
    listed = body["results"][0]
    assert listed["permission"] == "edit"
    assert listed["owner"] == {"id": alice.pk, "email": "alice@example.com", "name": "Alice"}


def test_list_runs_a_fixed_number_of_queries(alice, bob, django_assert_max_num_queries):
    for n in range(8):
        make_project(owner=alice, name=f"Project {n}", members={bob: "view"})
    client = signed_in(alice)
    # session + user, count, page, owners: never one per project.
    with django_assert_max_num_queries(5):
        response = client.get(f"{API}/projects/")
    assert response.status_code == 200
    assert response.json()["count"] == 8


def test_viewer_can_read_but_not_write(project, charlie):
    Membership.objects.create(project=project, user=charlie, permission=Permission.VIEW)
    client = signed_in(charlie)
    assert client.get(project_url(project)).status_code == 200
    for method, suffix, body in PROJECT_ENDPOINTS[1:4]:
        assert call(client, method, project_url(project, suffix), body).status_code == 403, (method, suffix)
    project.refresh_from_db()
    assert project.name == "Alice's project"


def test_a_viewers_invalid_write_is_a_403_not_a_400(project, charlie):
    Membership.objects.create(project=project, user=charlie, permission=Permission.VIEW)
    response = signed_in(charlie).patch(project_url(project), {"color": "red"}, format="json")
    assert response.status_code == 403


# --- create -------------------------------------------------------------------------------


def test_it_creates_a_project_owned_by_the_requester(charlie):
    response = signed_in(charlie).post(
        f"{API}/projects/", {"name": "Weather", "description": "forecasts", "color": "#112233"}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "Weather"
    assert body["color"] == "#112233"
    assert body["permission"] == "own"
    assert body["owner"]["email"] == "charlie@example.com"
    assert Project.objects.get(pk=body["id"]).owner() == charlie


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "name"), ({"name": ""}, "name"), ({"name": "x", "color": "red"}, "color"), ({"name": "x" * 121}, "name")],
)
def test_create_names_the_invalid_field(charlie, body, field):
    response = signed_in(charlie).post(f"{API}/projects/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_a_secret_key_cannot_create_projects(project, alice):
    _, raw = make_key(project=project, actor=alice)
    response = with_secret_key(raw).post(f"{API}/projects/", {"name": "Sneaky"}, format="json")
    assert response.status_code == 403
    assert not Project.objects.filter(name="Sneaky").exists()


# --- update -------------------------------------------------------------------------------


def test_editor_can_rename_and_describe(project, bob):
    response = signed_in(bob).patch(
        project_url(project), {"name": "Renamed", "description": "new", "icon": "🚀"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "Renamed"
    assert response.json()["permission"] == "edit"
    project.refresh_from_db()
    assert (project.name, project.description, project.icon) == ("Renamed", "new", "🚀")


def test_editor_cannot_make_the_project_community(project, bob):
    response = signed_in(bob).patch(project_url(project), {"community": True}, format="json")
    assert response.status_code == 403
    project.refresh_from_db()
    assert project.community is False


def test_owner_can_make_the_project_community(project, alice):
    response = signed_in(alice).patch(project_url(project), {"community": True}, format="json")
    assert response.status_code == 200
    assert response.json()["community"] is True


def test_update_names_the_invalid_field(project, alice):
    response = signed_in(alice).patch(project_url(project), {"background_color": "#12"}, format="json")
    assert response.status_code == 400
    assert "background_color" in response.json()["errors"]


def test_put_is_not_offered(project, alice):
    assert signed_in(alice).put(project_url(project), {"name": "x"}, format="json").status_code == 405


# --- delete -------------------------------------------------------------------------------


def test_delete_requires_the_projects_name(project, alice):
    client = signed_in(alice)
    missing = client.delete(project_url(project), {}, format="json")
    assert missing.status_code == 400
    assert "confirm_name" in missing.json()["errors"]
    wrong = client.delete(project_url(project), {"confirm_name": "alice's project"}, format="json")
    assert wrong.status_code == 400
    assert "confirm_name" in wrong.json()["errors"]
    assert Project.objects.filter(pk=project.pk).exists()


def test_owner_deletes_with_confirmation(project, alice):
    response = signed_in(alice).delete(project_url(project), {"confirm_name": "Alice's project"}, format="json")
    assert response.status_code == 204
    assert not Project.objects.filter(pk=project.pk).exists()


def test_delete_accepts_the_confirmation_in_the_query_string(project, alice):
    response = signed_in(alice).delete(project_url(project) + "?confirm_name=Alice%27s%20project")
    assert response.status_code == 204
    assert not Project.objects.filter(pk=project.pk).exists()


def test_editor_cannot_delete(project, bob):
    response = signed_in(bob).delete(project_url(project), {"confirm_name": "Alice's project"}, format="json")
    assert response.status_code == 403
    assert Project.objects.filter(pk=project.pk).exists()


# --- join ---------------------------------------------------------------------------------


def test_anyone_may_join_a_community_project_as_editor(alice, charlie):
    community = make_project(owner=alice, name="Commons", community=True)
    response = signed_in(charlie).post(project_url(community, "join/"))
    assert response.status_code == 200, response.content
    assert response.json()["permission"] == "edit"
    assert community.permission_of(charlie) == Permission.EDIT


def test_joining_keeps_an_existing_membership(alice):
    community = make_project(owner=alice, name="Commons", community=True)
    assert signed_in(alice).post(project_url(community, "join/")).json()["permission"] == "own"


# --- transfer -----------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["bob@example.com", "BOB@example.com", "id"])
def test_owner_transfers_to_a_member_by_email_or_id(project, alice, bob, who):
    response = signed_in(alice).post(
        project_url(project, "transfer/"), {"user": str(bob.pk) if who == "id" else who}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["permission"] == "edit"
    assert response.json()["owner"]["email"] == "bob@example.com"
    assert project.owner() == bob
    assert project.permission_of(alice) == Permission.EDIT


@pytest.mark.parametrize("who", ["charlie@example.com", "nobody@example.com", "999999", "99999999999999999999999"])
def test_transfer_to_a_non_member_names_the_field(project, alice, charlie, who):
    response = signed_in(alice).post(project_url(project, "transfer/"), {"user": who}, format="json")
    assert response.status_code == 400
    assert "user" in response.json()["errors"]
    assert project.owner() == alice


def test_editor_cannot_transfer(project, bob):
    response = signed_in(bob).post(project_url(project, "transfer/"), {"user": "bob@example.com"}, format="json")
    assert response.status_code == 403
    assert project.permission_of(bob) == Permission.EDIT
