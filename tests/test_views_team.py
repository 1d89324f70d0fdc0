"""The Team tab: invitations, permissions, removal, ownership transfer, leaving."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from accounts import services
from accounts.models import Invitation, Membership, Permission
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_the_owner_sees_the_team_controls(client, project, alice):
    client.force_login(alice)
    page = client.get(reverse("project_team", args=[project.pk])).content.decode()
    assert "bob@example.com" in page
    assert "Invite someone" in page
    assert "Transfer ownership" in page
    assert 'name="permission"' in page
    assert "Leave project" not in page


def test_an_editor_sees_the_team_but_no_owner_controls(client, project, bob):
    client.force_login(bob)
    page = client.get(reverse("project_team", args=[project.pk])).content.decode()
    assert "alice@example.com" in page
    assert "Invite someone" not in page
    assert "Transfer ownership" not in page
    assert reverse("project_member_remove", args=[project.pk, bob.pk]) not in page
    assert "Leave project" in page


def test_inviting_a_known_address_adds_the_member(
    client, project, alice, charlie, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("project_member_invite", args=[project.pk]), {"email": "Charlie@Example.com", "permission": "edit"}
        )
    assert response.status_code == 302
    assert project.permission_of(charlie) == Permission.EDIT
    assert [m.to for m in mail.outbox] == [["charlie@example.com"]]


def test_inviting_an_unknown_address_sends_an_invitation(
    client, project, alice, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("project_member_invite", args=[project.pk]), {"email": "new@example.com", "permission": "view"}
        )
    invitation = Invitation.objects.get(project=project)
    assert (invitation.email, invitation.permission, invitation.invited_by) == ("new@example.com", "view", alice)
    assert mail.outbox[0].to == ["new@example.com"]
    page = client.get(reverse("project_team", args=[project.pk])).content.decode()
    assert "Pending invitations" in page
    assert "new@example.com" in page


def test_inviting_an_unconfirmed_account_sends_an_invitation_instead(client, project, alice):
    unconfirmed = make_user(email="dana@example.com", verified=False)
    client.force_login(alice)
    response = client.post(
        reverse("project_member_invite", args=[project.pk]),
        {"email": "dana@example.com", "permission": "edit"},
        follow=True,
    )
    assert "We emailed an invitation to dana@example.com" in response.content.decode()
    assert project.permission_of(unconfirmed) is None
    assert Invitation.objects.filter(project=project, email="dana@example.com").exists()


def test_inviting_an_existing_member_shows_an_error(client, project, alice):
    client.force_login(alice)
    response = client.post(
        reverse("project_member_invite", args=[project.pk]), {"email": "bob@example.com", "permission": "view"}
    )
    assert response.status_code == 400
    assert "already a member" in response.content.decode()
    assert project.permission_of(project.memberships.get(user__email="bob@example.com").user) == Permission.EDIT


def test_the_owner_cancels_an_invitation(client, project, alice):
    invitation = services.member_invite(project=project, actor=alice, email="new@example.com").invitation
    client.force_login(alice)
    response = client.post(reverse("project_invitation_cancel", args=[project.pk, invitation.pk]))
    assert response.status_code == 302
    assert not Invitation.objects.filter(pk=invitation.pk).exists()


def test_the_owner_changes_a_permission_with_a_plain_form(client, project, alice, bob):
    client.force_login(alice)
    response = client.post(reverse("project_member_permission", args=[project.pk, bob.pk]), {"permission": "view"})
    assert response.status_code == 302
    assert response["Location"] == reverse("project_team", args=[project.pk])
    assert project.permission_of(bob) == Permission.VIEW


def test_the_owner_changes_a_permission_inline_with_htmx(client, project, alice, bob):
    client.force_login(alice)
    response = client.post(
        reverse("project_member_permission", args=[project.pk, bob.pk]), {"permission": "view"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    row = response.content.decode()
    assert row.lstrip().startswith(f'<li id="member-{bob.pk}"')
    assert "Saved" in row
    assert '<option value="view" selected>' in row
    assert project.permission_of(bob) == Permission.VIEW


def test_an_invalid_permission_is_reported_in_the_row(client, project, alice, bob):
    client.force_login(alice)
    response = client.post(
        reverse("project_member_permission", args=[project.pk, bob.pk]), {"permission": "own"}, HTTP_HX_REQUEST="true"
    )
    assert 'class="row-note error"' in response.content.decode()
    assert project.permission_of(bob) == Permission.EDIT


def test_the_owner_removes_a_member(client, project, alice, bob):
    client.force_login(alice)
    response = client.post(reverse("project_member_remove", args=[project.pk, bob.pk]))
    assert response.status_code == 302
    assert project.permission_of(bob) is None


def test_the_owner_cannot_remove_themselves(client, project, alice):
    client.force_login(alice)
    response = client.post(reverse("project_member_remove", args=[project.pk, alice.pk]), follow=True)
    assert "the owner cannot leave" in response.content.decode()
    assert project.permission_of(alice) == Permission.OWN


def test_the_owner_transfers_ownership_and_stays_as_editor(client, project, alice, bob):
    client.force_login(alice)
    response = client.post(reverse("project_transfer", args=[project.pk]), {"new_owner": bob.pk})
    assert response.status_code == 302
    assert project.permission_of(bob) == Permission.OWN
    assert project.permission_of(alice) == Permission.EDIT


def test_ownership_goes_only_to_a_member(client, project, alice, charlie):
    client.force_login(alice)
    response = client.post(reverse("project_transfer", args=[project.pk]), {"new_owner": charlie.pk})
    assert response.status_code == 400
    assert project.permission_of(alice) == Permission.OWN
    assert project.permission_of(charlie) is None


def test_the_transfer_choices_are_the_other_members_of_this_project(client, project, alice, bob):
    # Bob owns another project: he is still a valid new owner here.
    services.project_create(owner=bob, name="Bob's own")
    client.force_login(alice)
    form = client.get(reverse("project_team", args=[project.pk])).context["transfer_form"]
    assert list(form.fields["new_owner"].queryset) == [bob]


def test_a_member_leaves_the_project(client, project, bob):
    client.force_login(bob)
    response = client.post(reverse("project_leave", args=[project.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("project_list")
    assert not Membership.objects.filter(project=project, user=bob).exists()


def test_the_owner_cannot_leave(client, project, alice):
    client.force_login(alice)
    response = client.post(reverse("project_leave", args=[project.pk]))
    assert response["Location"] == reverse("project_team", args=[project.pk])
    assert project.permission_of(alice) == Permission.OWN


def test_a_viewer_may_leave(client, project):
    viewer = make_user(email="victor@example.com")
    Membership.objects.create(project=project, user=viewer, permission=Permission.VIEW)
    client.force_login(viewer)
    client.post(reverse("project_leave", args=[project.pk]))
    assert project.permission_of(viewer) is None
