from __future__ import annotations

import pytest

from accounts import services
from accounts.models import Invitation, Membership, Permission
from tests.apiclient import anonymous, project_url, signed_in
from tests.factories import make_project, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def invitation(project, alice):  # type: ignore[no-untyped-def]
    return services.member_invite(project=project, actor=alice, email="dana@example.com").invitation


def endpoints(project, bob, invitation):  # type: ignore[no-untyped-def]
    """Every member and invitation endpoint of the project, as (method, URL, body)."""
    return [
        ("get", project_url(project, "members/"), None),
        ("post", project_url(project, "members/"), {"email": "eve@example.com", "permission": "view"}),
        ("patch", project_url(project, f"members/{bob.pk}/"), {"permission": "view"}),
        ("delete", project_url(project, f"members/{bob.pk}/"), None),
        ("get", project_url(project, "invitations/"), None),
        ("delete", project_url(project, f"invitations/{invitation.pk}/"), None),
    ]


def call(client, method: str, url: str, body: dict | None = None):  # type: ignore[no-untyped-def]
    return getattr(client, method)(url, body, format="json")


# --- access -------------------------------------------------------------------------------


def test_it_rejects_outsider_on_every_endpoint(project, bob, charlie, invitation):
    client = signed_in(charlie)
    for method, url, body in endpoints(project, bob, invitation):
        assert call(client, method, url, body).status_code == 404, (method, url)
    assert project.permission_of(bob) == Permission.EDIT
    assert not Invitation.objects.filter(email="eve@example.com").exists()
    assert Invitation.objects.filter(pk=invitation.pk).exists()


def test_it_requires_authentication(project, bob, invitation):
    for method, url, body in endpoints(project, bob, invitation):
        assert call(anonymous(), method, url, body).status_code == 401, (method, url)


def test_editor_can_read_but_not_manage_members(project, alice, bob, invitation):
    client = signed_in(bob)
    for method, url, body in endpoints(project, alice, invitation):
        expected = 200 if method == "get" else 403
        assert call(client, method, url, body).status_code == expected, (method, url)
    assert project.owner() == alice
    assert Invitation.objects.filter(pk=invitation.pk).exists()


def test_viewer_cannot_change_members(project, bob, charlie):
    Membership.objects.create(project=project, user=charlie, permission=Permission.VIEW)
    client = signed_in(charlie)
    assert call(client, "patch", project_url(project, f"members/{bob.pk}/"), {"permission": "view"}).status_code == 403
    assert call(client, "delete", project_url(project, f"members/{bob.pk}/")).status_code == 403
    assert project.permission_of(bob) == Permission.EDIT


# --- list ---------------------------------------------------------------------------------


def test_it_lists_members_with_their_permission(project, alice, bob):
    body = signed_in(bob).get(project_url(project, "members/")).json()
    assert [(m["user"]["email"], m["permission"]) for m in body["results"]] == [
        ("alice@example.com", "own"),
        ("bob@example.com", "edit"),
    ]


def test_member_list_runs_a_fixed_number_of_queries(project, alice, django_assert_max_num_queries):
    for n in range(8):
        Membership.objects.create(project=project, user=make_user(email=f"m{n}@example.com"), permission="view")
    client = signed_in(alice)
    # session + user, project with permission, count, page (users joined)
    with django_assert_max_num_queries(5):
        response = client.get(project_url(project, "members/"))
    assert response.json()["count"] == 10


def test_invitation_list_runs_a_fixed_number_of_queries(project, alice, django_assert_max_num_queries):
    for n in range(8):
        services.member_invite(project=project, actor=alice, email=f"new{n}@example.com")
    client = signed_in(alice)
    with django_assert_max_num_queries(5):
        response = client.get(project_url(project, "invitations/"))
    assert response.json()["count"] == 8
    assert response.json()["results"][0]["invited_by"]["email"] == "alice@example.com"


# --- invite -------------------------------------------------------------------------------


def test_owner_adds_a_known_address_at_once_and_tells_them(
    project, alice, charlie, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in(alice).post(
            project_url(project, "members/"), {"email": "Charlie@Example.com", "permission": "edit"}, format="json"
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "added"
    assert body["invitation"] is None
    assert body["membership"]["user"]["email"] == "charlie@example.com"
    assert project.permission_of(charlie) == Permission.EDIT
    assert [m.to for m in mailoutbox] == [["charlie@example.com"]]


def test_owner_invites_an_unknown_address_by_email(project, alice, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in(alice).post(project_url(project, "members/"), {"email": "dana@example.com"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "invited"
    assert body["membership"] is None
    assert body["invitation"]["email"] == "dana@example.com"
    assert body["invitation"]["permission"] == "view"
    assert [m.to for m in mailoutbox] == [["dana@example.com"]]
    listed = signed_in(alice).get(project_url(project, "invitations/")).json()["results"]
    assert [i["email"] for i in listed] == ["dana@example.com"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "dana@example.com", "permission": "own"}, "permission"),
        ({"email": "dana@example.com", "permission": "admin"}, "permission"),
        ({"email": "not-an-address"}, "email"),
        ({}, "email"),
        ({"email": "bob@example.com"}, "email"),  # already a member: the service says so
    ],
)
def test_invite_names_the_invalid_field(project, alice, body, field):
    response = signed_in(alice).post(project_url(project, "members/"), body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"], response.json()


# --- change and remove --------------------------------------------------------------------


def test_owner_changes_a_members_permission(project, alice, bob):
    response = signed_in(alice).patch(project_url(project, f"members/{bob.pk}/"), {"permission": "view"}, format="json")
    assert response.status_code == 200
    assert response.json()["permission"] == "view"
    assert project.permission_of(bob) == Permission.VIEW


def test_nobody_becomes_owner_by_a_permission_change(project, alice, bob):
    client = signed_in(alice)
    response = client.patch(project_url(project, f"members/{bob.pk}/"), {"permission": "own"}, format="json")
    assert response.status_code == 400
    assert "permission" in response.json()["errors"]
    response = client.patch(project_url(project, f"members/{alice.pk}/"), {"permission": "view"}, format="json")
    assert response.status_code == 400
    assert "permission" in response.json()["errors"]
    assert project.owner() == alice


def test_an_unknown_member_is_a_404(project, alice, charlie):
    client = signed_in(alice)
    url = project_url(project, f"members/{charlie.pk}/")
    assert client.patch(url, {"permission": "view"}, format="json").status_code == 404
    assert client.delete(url).status_code == 404


def test_owner_removes_a_member(project, alice, bob):
    assert signed_in(alice).delete(project_url(project, f"members/{bob.pk}/")).status_code == 204
    assert project.permission_of(bob) is None


def test_a_member_may_leave(project, bob):
    assert signed_in(bob).delete(project_url(project, f"members/{bob.pk}/")).status_code == 204
    assert project.permission_of(bob) is None
    assert signed_in(bob).get(project_url(project)).status_code == 404


def test_the_owner_cannot_leave(project, alice):
    response = signed_in(alice).delete(project_url(project, f"members/{alice.pk}/"))
    assert response.status_code == 400
    assert "user" in response.json()["errors"]
    assert project.owner() == alice


# --- invitations --------------------------------------------------------------------------


def test_owner_cancels_an_invitation(project, alice, invitation):
    assert signed_in(alice).delete(project_url(project, f"invitations/{invitation.pk}/")).status_code == 204
    assert not Invitation.objects.filter(pk=invitation.pk).exists()


def test_an_invitation_of_another_project_is_a_404(project, alice, invitation):
    other = make_project(owner=alice, name="Other")
    assert signed_in(alice).delete(project_url(other, f"invitations/{invitation.pk}/")).status_code == 404
    assert Invitation.objects.filter(pk=invitation.pk).exists()


def test_accepted_invitations_are_not_listed(project, alice, invitation):
    make_user(email="dana@example.com")  # signing up accepts the invitation
    assert signed_in(alice).get(project_url(project, "invitations/")).json()["results"] == []
