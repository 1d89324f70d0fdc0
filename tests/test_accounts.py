"""Accounts through allauth's real views: sign-up, first-user rights (and their race), password
reset by email, email verification, login rate limits, roles and invitations accepted at sign-up."""

from __future__ import annotations

import re
import threading

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group
from django.contrib.auth.models import Permission as AuthPermission
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test import Client, override_settings

from accounts import roles, services
from accounts.models import FirstUserClaim, Invitation, Membership, User
from tests.factories import PASSWORD, make_project, make_user

NEW_PASSWORD = "a-quite-different-passphrase-42"
RACERS = 6


def sign_up(client: Client, email: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return client.post("/accounts/signup/", {"email": email, "password1": password, "password2": password})


def log_in(client: Client, email: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return client.post("/accounts/login/", {"login": email, "password": password})


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def link_in(message: mail.EmailMessage, path_prefix: str) -> str:
    """The path of the first link in the message that starts with ``path_prefix``."""
    found = re.search(rf"https?://[^/\s]+({re.escape(path_prefix)}\S+)", message.body)
    assert found, f"no {path_prefix} link in:\n{message.body}"
    return found.group(1)


def role_names(user: User) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


# --- sign-up and the first user ------------------------------------------------------------


def test_first_sign_up_becomes_superuser_with_every_role(client, db):
    response = sign_up(client, "alice@example.com")

    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"
    alice = User.objects.get(email="alice@example.com")
    assert alice.is_superuser
    assert alice.is_staff
    assert role_names(alice) == set(roles.ALL_ROLES)
    assert FirstUserClaim.objects.get().user == alice
    assert signed_in(client)


def test_second_sign_up_is_a_plain_user(client, db):
    sign_up(Client(), "alice@example.com")
    sign_up(client, "bob@example.com")

    bob = User.objects.get(email="bob@example.com")
    assert not bob.is_superuser
    assert not bob.is_staff
    assert role_names(bob) == {roles.USER}
    assert not bob.has_perm("accounts.run_any_component")
    assert client.get("/superadmin/").status_code == 302  # to the login page: not staff


def test_sign_up_after_createsuperuser_is_a_plain_user(client, db):
    User.objects.create_superuser(email="root@example.com", password=PASSWORD)  # not through allauth

    sign_up(client, "bob@example.com")

    assert not User.objects.get(email="bob@example.com").is_superuser


def test_first_users_rights_are_not_inherited_when_it_is_deleted(client, db):
    sign_up(Client(), "alice@example.com")
    User.objects.get(email="alice@example.com").delete()

    sign_up(client, "bob@example.com")

    assert not User.objects.get(email="bob@example.com").is_superuser
    assert FirstUserClaim.objects.get().user is None


def test_sign_up_rejects_a_taken_address(client, db):
    sign_up(Client(), "alice@example.com")

    response = sign_up(client, "ALICE@example.com")

    assert response.status_code == 200  # the form again, with an error
    assert User.objects.count() == 1


def test_user_logs_out(client, db):
    sign_up(client, "alice@example.com")

    client.post("/accounts/logout/")

    assert not signed_in(client)
    assert client.get("/dashboard/").status_code == 302


# --- the race for the first user --------------------------------------------------------------


def _in_threads(count: int, work) -> list[object]:  # type: ignore[no-untyped-def]
    """Run ``work(i)`` in ``count`` threads at once; each thread has its own connection."""
    results: list[object] = [None] * count
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 -- re-raised below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    if errors:
        raise errors[0]
    return results


@pytest.mark.django_db(transaction=True)
def test_simultaneous_first_sign_ups_make_exactly_one_superuser():
    barrier = threading.Barrier(RACERS, timeout=30)

    def racer(i: int) -> int:
        client = Client()
        barrier.wait()  # every sign-up request starts at the same moment
        return sign_up(client, f"racer{i}@example.com").status_code

    statuses = _in_threads(RACERS, racer)

    assert statuses == [302] * RACERS
    assert User.objects.count() == RACERS
    superusers = list(User.objects.filter(is_superuser=True))
    assert len(superusers) == 1
    assert FirstUserClaim.objects.get().user == superusers[0]
    assert role_names(superusers[0]) == set(roles.ALL_ROLES)
    for user in User.objects.exclude(pk=superusers[0].pk):
        assert role_names(user) == {roles.USER}
        assert not user.is_staff


@pytest.mark.django_db(transaction=True)
def test_first_user_claims_that_cannot_see_each_other_still_make_one_superuser(monkeypatch):
    """The worst case for the claim: every new user is still uncommitted (invisible to the
    others) when it claims, so only the fixed-key insert can decide."""
    # PostgreSQL runs these transactions side by side, so the barrier sits inside them and every
    # claim really collides. SQLite runs writing transactions one at a time (a barrier inside
    # would deadlock), so there they start together and the database serialises them.
    side_by_side = connection.vendor != "sqlite"
    barrier = threading.Barrier(RACERS, timeout=30)

    def racer(i: int) -> bool:
        if not side_by_side:
            barrier.wait()
        with transaction.atomic():
            user = User.objects.create_user(email=f"racer{i}@example.com", password=PASSWORD)
            if side_by_side:
                barrier.wait()
            services.user_on_signup(user=user)
        return user.is_superuser

    attempts: list[int] = []
    create = FirstUserClaim.objects.create

    def counting_create(**kwargs):  # type: ignore[no-untyped-def]
        attempts.append(1)
        return create(**kwargs)

    monkeypatch.setattr(FirstUserClaim.objects, "create", counting_create)

    won = _in_threads(RACERS, racer)

    # Side by side, every racer really tried to insert the claim; serialised, only the first did.
    assert len(attempts) == (RACERS if side_by_side else 1)
    assert won.count(True) == 1
    assert User.objects.filter(is_superuser=True).count() == 1
    assert FirstUserClaim.objects.get().user.is_superuser


# --- password reset -----------------------------------------------------------------------------


def test_password_reset_by_email_changes_the_password(client, db, mailoutbox):
    make_user(email="alice@example.com")

    response = client.post("/accounts/password/reset/", {"email": "alice@example.com"})
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["alice@example.com"]

    reset_path = link_in(mailoutbox[0], "/accounts/password/reset/key/")
    form_page = client.get(reset_path, follow=True)  # allauth moves the key into the session
    assert form_page.status_code == 200
    set_path = form_page.redirect_chain[-1][0] if form_page.redirect_chain else reset_path
    done = client.post(set_path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert done.status_code == 302

    assert signed_in(client) is False  # ACCOUNT_LOGIN_ON_PASSWORD_RESET is off
    assert log_in(Client(), "alice@example.com", PASSWORD).status_code == 200  # form again: refused
    fresh = Client()
    assert log_in(fresh, "alice@example.com", NEW_PASSWORD).status_code == 302
    assert signed_in(fresh)


def test_password_reset_link_works_once(client, db, mailoutbox):
    make_user(email="alice@example.com")
    client.post("/accounts/password/reset/", {"email": "alice@example.com"})
    reset_path = link_in(mailoutbox[0], "/accounts/password/reset/key/")
    page = client.get(reset_path, follow=True)
    client.post(page.redirect_chain[-1][0], {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})

    again = Client().get(reset_path, follow=True)

    assert again.context["token_fail"] is True  # allauth's "bad token" page, no form
    assert User.objects.get(email="alice@example.com").check_password(NEW_PASSWORD)


def test_password_reset_for_an_unknown_address_reveals_nothing(client, db, mailoutbox):
    response = client.post("/accounts/password/reset/", {"email": "nobody@example.com"})

    assert response.status_code == 302  # the same "check your mail" page as for a known address
    assert all("/accounts/password/reset/key/" not in m.body for m in mailoutbox)


# --- email verification -------------------------------------------------------------------------


def test_verification_is_optional_by_default(client, db, mailoutbox):
    sign_up(Client(), "alice@example.com")

    assert not EmailAddress.objects.get(email="alice@example.com").verified
    assert any("/accounts/confirm-email/" in m.body for m in mailoutbox)  # offered, not required
    assert log_in(client, "alice@example.com").status_code == 302
    assert signed_in(client)


@override_settings(ACCOUNT_EMAIL_VERIFICATION="mandatory")
def test_mandatory_verification_blocks_login_until_verified(client, db, mailoutbox):
    response = sign_up(client, "alice@example.com")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/confirm-email/")
    assert not signed_in(client)
    blocked = Client()
    assert log_in(blocked, "alice@example.com").status_code == 302
    assert not signed_in(blocked)

    confirm_path = link_in(mailoutbox[-1], "/accounts/confirm-email/")
    assert Client().post(confirm_path).status_code == 302

    assert EmailAddress.objects.get(email="alice@example.com").verified
    allowed = Client()
    assert log_in(allowed, "alice@example.com").status_code == 302
    assert signed_in(allowed)


# --- login rate limits --------------------------------------------------------------------------


def test_repeated_failed_logins_lock_the_account_out(client, db):
    make_user(email="alice@example.com")
    for _ in range(5):  # LOGIN_FAILED_RATE_LIMIT default: 5 per 5 minutes per account
        assert log_in(client, "alice@example.com", "wrong-password").status_code == 200

    response = log_in(client, "alice@example.com", PASSWORD)  # even the right password now

    assert response.status_code == 200
    assert b"Too many failed login attempts" in response.content
    assert not signed_in(client)


def test_too_many_login_requests_from_one_address_get_429(client, db):
    statuses = [log_in(client, f"nobody{i}@example.com", "wrong").status_code for i in range(31)]

    assert statuses[:30] == [200] * 30  # LOGIN_RATE_LIMIT_IP default: 30 per minute
    assert statuses[30] == 429


# --- roles --------------------------------------------------------------------------------------


def _codenames(group: Group) -> set[str]:
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}


def test_roles_exist_with_their_permissions(db):
    assert set(Group.objects.values_list("name", flat=True)) >= set(roles.ALL_ROLES)
    every = {f"{p.content_type.app_label}.{p.codename}" for p in AuthPermission.objects.select_related("content_type")}
    for role, names in roles.ROLE_PERMISSIONS.items():
        expected = every if names == ("*",) else set(names)
        assert _codenames(Group.objects.get(name=role)) == expected, role


def test_every_permission_a_role_names_exists(db):
    """ensure_roles skips names it cannot find (they appear as apps migrate), so a typo would
    silently grant nothing."""
    every = {f"{p.content_type.app_label}.{p.codename}" for p in AuthPermission.objects.select_related("content_type")}
    named = {name for names in roles.ROLE_PERMISSIONS.values() for name in names if name != "*"}
    assert named <= every, named - every


@pytest.mark.parametrize("role", [roles.ADMIN, roles.MARKETPLACE_VALIDATION, roles.SUPERADMIN])
def test_validating_roles_may_run_any_component(role, alice, charlie):
    services.user_set_roles(user=charlie, role_names=[roles.USER, role])
    charlie = User.objects.get(pk=charlie.pk)  # permissions are cached per instance

    assert charlie.has_perm("accounts.run_any_component")


@pytest.mark.parametrize("role", [roles.USER, roles.MARKETPLACE])
def test_other_roles_may_not_run_any_component(role, alice, charlie):
    services.user_set_roles(user=charlie, role_names=[role])
    charlie = User.objects.get(pk=charlie.pk)

    assert not charlie.has_perm("accounts.run_any_component")


def test_ensure_roles_repairs_drifted_groups(db):
    Group.objects.get(name=roles.ADMIN).permissions.clear()
    Group.objects.filter(name=roles.MARKETPLACE).delete()

    roles.ensure_roles()

    assert "accounts.run_any_component" in _codenames(Group.objects.get(name=roles.ADMIN))
    assert _codenames(Group.objects.get(name=roles.MARKETPLACE)) == {
        "accounts.publish_to_marketplace",
        *(f"components.{action}_collection" for action in ("view", "add", "change", "delete")),
    }


def test_set_roles_replaces_roles_and_rejects_unknown_ones(alice, charlie):
    services.user_set_roles(user=charlie, role_names=[roles.USER, roles.MARKETPLACE])
    assert role_names(charlie) == {roles.USER, roles.MARKETPLACE}

    with pytest.raises(ValidationError):
        services.user_set_roles(user=charlie, role_names=[roles.USER, "wizard"])
    assert role_names(charlie) == {roles.USER, roles.MARKETPLACE}


# --- invitations --------------------------------------------------------------------------------


def test_invitation_is_accepted_once_the_invited_address_is_confirmed(
    client, alice, db, mailoutbox, django_capture_on_commit_callbacks
):
    project = make_project(owner=alice)
    with django_capture_on_commit_callbacks(execute=True):  # the invitation goes out after commit
        services.member_invite(project=project, actor=alice, email="Dana@Example.com", permission="edit")
    assert [m.to for m in mailoutbox] == [["dana@example.com"]]
    signup_path = link_in(mailoutbox[0], "/accounts/signup/")
    assert "email=dana%40example.com" in signup_path

    sign_up(client, "dana@example.com")
    dana = User.objects.get(email="dana@example.com")
    # Anyone can type an address into the sign-up form: it joins nothing until proven.
    assert not Membership.objects.filter(project=project, user=dana).exists()

    client.post(link_in(mailoutbox[-1], "/accounts/confirm-email/"))

    assert Membership.objects.get(project=project, user=dana).permission == "edit"
    assert Invitation.objects.get(project=project).accepted_at is not None
    assert not dana.is_superuser  # alice came first


@override_settings(ACCOUNT_EMAIL_VERIFICATION="none")
def test_invitation_is_accepted_at_sign_up_when_addresses_are_not_verified(
    client, alice, db, mailoutbox, django_capture_on_commit_callbacks
):
    project = make_project(owner=alice)
    with django_capture_on_commit_callbacks(execute=True):
        services.member_invite(project=project, actor=alice, email="dana@example.com", permission="view")
    assert mailoutbox[0].to == ["dana@example.com"]

    sign_up(client, "dana@example.com")

    dana = User.objects.get(email="dana@example.com")
    assert Membership.objects.get(project=project, user=dana).permission == "view"


def test_accepting_keeps_an_existing_membership(alice, bob, db):
    project = make_project(owner=alice, members={bob: "edit"})
    Invitation.objects.create(project=project, email=bob.email, permission="view", invited_by=alice)

    services.invitations_accept(user=bob)

    assert Membership.objects.get(project=project, user=bob).permission == "edit"
    assert not Invitation.objects.filter(accepted_at=None).exists()


def test_inviting_an_unverified_account_waits_for_its_confirmation(alice, project):
    """Someone who registered an address they do not own must not walk in when it is invited."""
    squatter = make_user(email="victim@example.com", verified=False)
    result = services.member_invite(project=project, actor=alice, email="victim@example.com", permission="edit")
    assert result.membership is None
    assert result.invitation is not None
    assert not project.memberships.filter(user=squatter).exists()

    services.invitations_accept(user=squatter)  # what confirming the address does
    assert project.memberships.get(user=squatter).permission == "edit"
