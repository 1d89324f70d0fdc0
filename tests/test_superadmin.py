"""The Django admin at /superadmin/: staff only, signs in through allauth, acts through services."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts import services
from accounts.models import ApiKey, Project, User
from tests.factories import PASSWORD, make_user


@pytest.fixture
def root(db):  # type: ignore[no-untyped-def]
    """The first user ever: superuser."""
    return make_user(email="root@example.com")


def test_the_first_user_can_open_superadmin(client, root):
    client.force_login(root)
    response = client.get("/superadmin/")
    assert response.status_code == 200
    assert b"Synchronise superadmin" in response.content


def test_anonymous_visitors_are_sent_to_the_allauth_login(client, db):
    response = client.get("/superadmin/", follow=True)
    assert response.redirect_chain[-1][0].startswith(reverse("account_login"))
    assert "next=" in response.redirect_chain[-1][0]


def test_it_rejects_a_signed_in_non_staff_user(client, root, charlie, project):
    # The same page shows the project to staff: what the refusal hides is there to hide.
    client.force_login(root)
    assert "Alice&#x27;s project" in client.get("/superadmin/accounts/project/").content.decode()

    assert not charlie.is_staff
    client.force_login(charlie)
    assert client.get("/superadmin/login/").status_code == 403
    response = client.get("/superadmin/accounts/project/")
    assert response.status_code == 302
    assert response["Location"] == "/superadmin/login/?next=/superadmin/accounts/project/"
    refused = client.get(response["Location"])
    assert refused.status_code == 403
    assert "Alice" not in refused.content.decode()


def test_admin_login_form_is_the_allauth_one(client, root):
    response = client.post(reverse("account_login"), {"login": root.email, "password": PASSWORD}, follow=True)
    assert response.status_code == 200
    assert client.get("/superadmin/").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/superadmin/accounts/user/",
        "/superadmin/accounts/plan/",
        "/superadmin/accounts/project/",
        "/superadmin/accounts/apikey/",
        "/superadmin/accounts/invitation/",
        "/superadmin/accounts/accountusage/",
        "/superadmin/accounts/projectusage/",
        "/superadmin/auth/group/",
    ],
)
def test_every_admin_list_opens(client, root, project, path):
    client.force_login(root)
    assert client.get(path).status_code == 200


def test_keys_show_hash_only(client, root, alice, project):
    key, raw = services.api_key_create(project=project, actor=alice, name="ci")
    client.force_login(root)
    page = client.get(f"/superadmin/accounts/apikey/{key.pk}/change/").content.decode()
    assert key.digest in page
    assert raw not in page


def test_revoke_action_goes_through_the_service(client, root, alice, project):
    key, raw = services.api_key_create(project=project, actor=alice, name="ci")
    client.force_login(root)
    response = client.post(
        "/superadmin/accounts/apikey/", {"action": "revoke", "_selected_action": [key.pk]}, follow=True
    )
    assert response.status_code == 200
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert services.api_key_authenticate(raw=raw, kind="secret") is None


def test_editing_a_project_in_admin_uses_project_update(client, root, project):
    client.force_login(root)
    url = f"/superadmin/accounts/project/{project.pk}/change/"
    data = {
        "name": "Renamed by admin",
        "description": "",
        "icon": "",
        "color": "#123456",
        "background_color": "#eeeeee",
        "memberships-TOTAL_FORMS": "2",
        "memberships-INITIAL_FORMS": "2",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }
    for i, membership in enumerate(project.memberships.all()):
        data[f"memberships-{i}-id"] = str(membership.pk)
        data[f"memberships-{i}-project"] = str(project.pk)
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    project.refresh_from_db()
    assert project.name == "Renamed by admin"
    assert project.color == "#123456"


def test_deleting_a_project_in_admin_uses_project_delete(client, root, project):
    client.force_login(root)
    response = client.post(f"/superadmin/accounts/project/{project.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Project.objects.filter(pk=project.pk).exists()
    assert not ApiKey.objects.filter(project_id=project.pk).exists()


def test_first_user_has_every_role(root):
    assert root.is_superuser
    assert root.is_staff
    assert set(User.objects.get(pk=root.pk).groups.values_list("name", flat=True)) == {
        "user", "admin", "superadmin", "marketplace", "marketplace_validation",
    }  # fmt: skip


@pytest.fixture
def admin_role(root):  # type: ignore[no-untyped-def]
    """Staff with the `admin` role only: may change users, not raise them."""
    from django.contrib.auth.models import Group

    user = make_user(email="support@example.com", is_staff=True)
    user.groups.set([Group.objects.get(name="admin")])
    return user


def test_the_admin_role_changes_a_user_but_cannot_raise_anyone(client, root, admin_role, charlie):
    from django.contrib.auth.models import Group

    client.force_login(admin_role)
    page = client.get(f"/superadmin/accounts/user/{charlie.pk}/change/")
    assert page.status_code == 200
    for field in (b'name="is_superuser"', b'name="is_staff"', b'name="groups"', b"password/"):
        assert field not in page.content, field
    superadmin = Group.objects.get(name="superadmin")
    for target in (charlie, admin_role):
        response = client.post(
            f"/superadmin/accounts/user/{target.pk}/change/",
            {"email": target.email, "name": "Renamed", "is_active": "on", "is_staff": "on",
             "is_superuser": "on", "groups": [superadmin.pk], "plan": target.plan_id or ""},
        )  # fmt: skip
        assert response.status_code == 302, response.content.decode()[:2000]
        target.refresh_from_db()
        assert target.name == "Renamed"  # what the role may change, changed
        assert not target.is_superuser
        assert target.is_staff == (target == admin_role)
        assert not target.groups.filter(name="superadmin").exists()

    old_hash = User.objects.get(pk=charlie.pk).password
    response = client.post(
        f"/superadmin/accounts/user/{charlie.pk}/password/",
        {"password1": "a-new-Passw0rd!", "password2": "a-new-Passw0rd!", "usable_password": "true"},
    )
    assert response.status_code == 403
    assert User.objects.get(pk=charlie.pk).password == old_hash

    # A superuser is out of the role's reach entirely.
    response = client.post(
        f"/superadmin/accounts/user/{root.pk}/change/", {"email": root.email, "name": "x", "is_active": ""}
    )
    assert response.status_code == 403
    assert User.objects.get(pk=root.pk).is_active


def test_a_superuser_still_sets_roles_and_passwords(client, root, charlie):
    from django.contrib.auth.models import Group

    client.force_login(root)
    admin_group = Group.objects.get(name="admin")
    response = client.post(
        f"/superadmin/accounts/user/{charlie.pk}/change/",
        {"email": charlie.email, "name": "", "is_active": "on", "is_staff": "on",
         "groups": [admin_group.pk], "plan": charlie.plan_id or ""},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    charlie.refresh_from_db()
    assert charlie.is_staff
    assert list(charlie.groups.values_list("name", flat=True)) == ["admin"]
    response = client.post(
        f"/superadmin/accounts/user/{charlie.pk}/password/",
        {"password1": "a-new-Passw0rd!", "password2": "a-new-Passw0rd!", "usable_password": "true"},
    )
    assert response.status_code == 302
    charlie.refresh_from_db()
    assert charlie.check_password("a-new-Passw0rd!")
