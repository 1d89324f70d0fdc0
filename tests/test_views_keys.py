"""The API keys tab (secrets shown once) and the connect page."""

from __future__ import annotations

from html import escape

import pytest
from django.urls import reverse

from accounts import services
from accounts.models import ApiKey, ApiKeyKind, Membership, Permission
from tests.factories import make_project, make_user

pytestmark = pytest.mark.django_db


def plaintext_of(response) -> str:  # type: ignore[no-untyped-def]
    return response.context["created_plaintext"]


def test_creating_a_secret_key_shows_it_once(client, project, bob):
    client.force_login(bob)
    response = client.post(reverse("project_secret_key_create", args=[project.pk]), {"name": "ci server"})
    assert response.status_code == 200
    raw = plaintext_of(response)
    page = response.content.decode()
    assert raw.startswith("sk_")
    assert page.count(raw) >= 2  # the copy field and the "try it" snippets
    assert "only time it is shown" in page
    assert "no-store" in response["Cache-Control"]

    key = ApiKey.objects.get(project=project, kind=ApiKeyKind.SECRET)
    assert (key.name, key.created_by, key.digest) == ("ci server", bob, services.api_key_digest(raw))
    assert services.api_key_authenticate(raw=raw, kind=ApiKeyKind.SECRET) == key

    again = client.get(reverse("project_keys", args=[project.pk])).content.decode()
    assert raw not in again
    assert f"{key.prefix}…" in again
    assert "ci server" in again
    assert raw not in str(dict(client.session.items()))


def test_the_one_time_page_points_reloads_at_the_keys_page(client, project, bob):
    client.force_login(bob)
    response = client.post(reverse("project_secret_key_create", args=[project.pk]), {"name": "ci"})
    assert f'data-replace-url="{reverse("project_keys", args=[project.pk])}"' in response.content.decode()


def test_a_secret_key_needs_a_name(client, project, bob):
    client.force_login(bob)
    response = client.post(reverse("project_secret_key_create", args=[project.pk]), {"name": ""})
    assert response.status_code == 400
    assert "created_plaintext" not in response.context
    assert not ApiKey.objects.exists()


def test_creating_the_publishable_key_shows_it_once(client, project, bob):
    client.force_login(bob)
    response = client.post(reverse("project_publishable_key_create", args=[project.pk]))
    raw = plaintext_of(response)
    assert raw.startswith("pk_")
    key = ApiKey.objects.active().get(project=project, kind=ApiKeyKind.PUBLISHABLE)
    assert key.digest == services.api_key_digest(raw)
    assert raw not in client.get(reverse("project_keys", args=[project.pk])).content.decode()


def test_rotating_the_publishable_key_revokes_the_old_one_and_keeps_its_origins(client, project, alice, bob):
    old, _ = services.api_key_create(
        project=project, actor=alice, kind=ApiKeyKind.PUBLISHABLE, allowed_origins=["https://app.example.com"]
    )
    client.force_login(bob)
    response = client.post(reverse("project_publishable_key_create", args=[project.pk]))
    new = response.context["created_key"]
    old.refresh_from_db()
    assert not old.is_active
    assert new.is_active
    assert new.allowed_origins == ["https://app.example.com"]


def test_an_editor_sets_the_allowed_origins(client, project, alice, bob):
    key, _ = services.api_key_create(project=project, actor=alice, kind=ApiKeyKind.PUBLISHABLE)
    client.force_login(bob)
    response = client.post(
        reverse("project_publishable_key_origins", args=[project.pk]),
        {"allowed_origins": "https://app.example.com/\n\nhttp://localhost:3000\nhttps://app.example.com"},
    )
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.allowed_origins == ["https://app.example.com", "http://localhost:3000"]


def test_it_rejects_an_origin_with_a_path(client, project, alice, bob):
    key, _ = services.api_key_create(
        project=project, actor=alice, kind=ApiKeyKind.PUBLISHABLE, allowed_origins=["https://ok.example"]
    )
    client.force_login(bob)
    response = client.post(
        reverse("project_publishable_key_origins", args=[project.pk]), {"allowed_origins": "https://x.example/app"}
    )
    assert response.status_code == 400
    assert "is not an origin" in response.content.decode()
    key.refresh_from_db()
    assert key.allowed_origins == ["https://ok.example"]


def test_an_editor_revokes_a_secret_key(client, project, alice, bob):
    key, raw = services.api_key_create(project=project, actor=alice, name="old")
    client.force_login(bob)
    response = client.post(reverse("project_key_revoke", args=[project.pk, key.pk]))
    assert response.status_code == 302
    key.refresh_from_db()
    assert not key.is_active
    assert services.api_key_authenticate(raw=raw, kind=ApiKeyKind.SECRET) is None
    page = client.get(reverse("project_keys", args=[project.pk])).content.decode()
    assert "Revoked keys" in page


def test_a_viewer_sees_key_prefixes_but_no_key_controls(client, project, alice):
    key, _ = services.api_key_create(project=project, actor=alice, name="server")
    viewer = make_user(email="victor@example.com")
    Membership.objects.create(project=project, user=viewer, permission=Permission.VIEW)
    client.force_login(viewer)
    page = client.get(reverse("project_keys", args=[project.pk])).content.decode()
    assert f"{key.prefix}…" in page
    assert reverse("project_key_revoke", args=[project.pk, key.pk]) not in page
    assert reverse("project_secret_key_create", args=[project.pk]) not in page


# --- connect --------------------------------------------------------------------------------


def test_the_connect_page_fills_the_snippets_with_the_publishable_key_prefix(client, project, alice, bob):
    key, raw = services.api_key_create(project=project, actor=alice, kind=ApiKeyKind.PUBLISHABLE)
    client.force_login(bob)
    page = client.get(reverse("project_connect", args=[project.pk])).content.decode()
    assert escape(f'Synchronise.init("{key.prefix}…")') in page
    assert escape('"Bearer sk_…"') in page
    assert "http://testserver/api/v1/projects/" in page
    assert raw not in page


def test_the_connect_page_uses_placeholders_without_a_publishable_key(client, project, bob):
    client.force_login(bob)
    page = client.get(reverse("project_connect", args=[project.pk])).content.decode()
    assert escape('Synchronise.init("pk_…")') in page
    assert "no publishable key yet" in page


def test_connect_goes_straight_to_the_only_project(client, project, bob):
    client.force_login(bob)
    response = client.get(reverse("connect"))
    assert response["Location"] == reverse("project_connect", args=[project.pk])


def test_connect_lets_the_user_pick_among_projects(client, project, bob):
    other = make_project(owner=bob, name="Bob's project")
    client.force_login(bob)
    page = client.get(reverse("connect")).content.decode()
    assert "Alice&#x27;s project" in page
    assert "Bob&#x27;s project" in page
    response = client.get(reverse("connect"), {"project": other.pk})
    assert response["Location"] == reverse("project_connect", args=[other.pk])


def test_connect_picker_does_not_reveal_other_projects(client, project, charlie):
    client.force_login(charlie)
    response = client.get(reverse("connect"), {"project": project.pk}, follow=True)
    assert response.status_code == 404
