"""Rough edges of the UI a new user hit (issue 15): one date format in the viewer's zone,
one-time key banners that stack, the superadmin for non-staff, the credential form, the
schedule errors, the favicon, links to the API docs and the admin pages."""

from __future__ import annotations

import datetime
import re

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.models import ApiKey, ApiKeyKind

pytestmark = pytest.mark.django_db

MOMENT = datetime.datetime(2026, 12, 8, 13, 5, 7, tzinfo=datetime.UTC)


def render(source: str, **context: object) -> str:
    return Template(source).render(Context(context))


# --- Dates ---------------------------------------------------------------------------------


def test_when_prints_one_format_with_a_machine_readable_moment() -> None:
    html = render("{{ moment|when }}", moment=MOMENT)
    assert html.startswith('<time datetime="2026-12-08T13:05:07Z"')
    assert ">8 Dec 2026, 13:05</time>" in html
    assert 'title="8 Dec 2026, 13:05:07 (UTC)"' in html
    assert ">8 Dec 2026, 13:05:07</time>" in render('{{ moment|when:"seconds" }}', moment=MOMENT)
    assert render('{{ moment|when|default:"never" }}', moment=None) == "never"


def test_when_prints_the_zone_that_is_active() -> None:
    with timezone.override("Europe/Paris"):
        html = render("{{ moment|when }}", moment=MOMENT)
    assert 'datetime="2026-12-08T13:05:07Z"' in html  # the moment itself stays UTC
    assert ">8 Dec 2026, 14:05</time>" in html
    assert "(Europe/Paris)" in html


def key_meta(client, project) -> str:
    page = client.get(reverse("project_keys", args=[project.pk])).content.decode()
    return page


def test_the_browser_zone_cookie_sets_the_zone_of_every_date(client, project, bob) -> None:
    client.force_login(bob)
    services.api_key_create(project=project, actor=bob, kind=ApiKeyKind.SECRET, name="ci")
    ApiKey.objects.update(created_at=MOMENT)

    client.cookies["tz"] = "Asia/Tokyo"
    assert ">8 Dec 2026, 22:05</time>" in key_meta(client, project)
    # Anything that is not an IANA zone (a path, garbage) is ignored: UTC.
    for bad in ("../../etc/passwd", "Mars/Olympus", ""):
        client.cookies["tz"] = bad
        assert ">8 Dec 2026, 13:05</time>" in key_meta(client, project)


def test_pages_print_dates_with_when_only(client, project, bob) -> None:
    """The keys page used three formats ("8 Dec 2026", "3 hours ago", "8 Dec 2026, 13:05")."""
    client.force_login(bob)
    key, _ = services.api_key_create(project=project, actor=bob, kind=ApiKeyKind.SECRET, name="ci")
    ApiKey.objects.filter(pk=key.pk).update(created_at=MOMENT, last_used_at=MOMENT + datetime.timedelta(hours=1))
    services.api_key_create(project=project, actor=bob, kind=ApiKeyKind.SECRET, name="old")
    services.api_key_revoke(key=ApiKey.objects.get(name="old"), actor=bob)
    page = key_meta(client, project)
    assert " ago" not in page
    for label in ("Created", "last used", "Revoked"):
        assert f"{label} <time" in page
    assert re.search(r'last used <time datetime="2026-12-08T14:05:07Z"[^>]*>8 Dec 2026, 14:05</time>', page)


# --- Bug 6: one-time key banners stack until dismissed -----------------------------------


def test_a_secret_key_created_after_the_publishable_one_keeps_both_banners(client, project, bob) -> None:
    client.force_login(bob)
    first = client.post(reverse("project_publishable_key_create", args=[project.pk]))
    publishable = first.context["created_plaintext"]
    pending = re.findall(r'name="pending" value="([^"]+)"', first.content.decode())
    assert set(pending) == {publishable}  # every form of the page carries it on

    second = client.post(reverse("project_secret_key_create", args=[project.pk]), {"name": "ci", "pending": pending[0]})
    page = second.content.decode()
    secret = second.context["created_plaintext"]
    assert secret.startswith("sk_")
    assert f'value="{secret}"' in page
    assert f'value="{publishable}"' in page
    assert page.count('data-testid="new-key"') == 2
    assert page.index(secret) < page.index(publishable)  # the newest first
    assert page.count("I have saved it") == 2
    assert "no-store" in second["Cache-Control"]


def test_saving_origins_or_revoking_keeps_the_banners_shown(client, project, bob) -> None:
    client.force_login(bob)
    publishable = client.post(reverse("project_publishable_key_create", args=[project.pk])).context["created_plaintext"]
    saved = client.post(
        reverse("project_publishable_key_origins", args=[project.pk]),
        {"allowed_origins": "https://shop.example", "pending": publishable},
    )
    assert saved.status_code == 200
    assert f'value="{publishable}"' in saved.content.decode()
    assert "Allowed origins saved." in saved.content.decode()
    # Without anything pending, the usual redirect.
    plain = client.post(reverse("project_publishable_key_origins", args=[project.pk]), {"allowed_origins": ""})
    assert plain.status_code == 302


def test_only_active_keys_of_the_project_are_shown_again(client, project, bob, alice) -> None:
    from tests.factories import make_project

    client.force_login(bob)
    elsewhere = make_project(owner=alice, name="Elsewhere")
    _, foreign = services.api_key_create(project=elsewhere, actor=alice, kind=ApiKeyKind.SECRET, name="x")
    revoked_key, revoked = services.api_key_create(project=project, actor=bob, kind=ApiKeyKind.SECRET, name="y")
    services.api_key_revoke(key=revoked_key, actor=bob)
    response = client.post(
        reverse("project_secret_key_create", args=[project.pk]),
        {"name": "ci", "pending": [foreign, revoked, "sk_made-up", "sk_<b>made-up</b>"]},
    )
    page = response.content.decode()
    assert page.count('data-testid="new-key"') == 1
    assert foreign not in page
    assert revoked not in page
    assert "made-up" not in page


# --- Bug 7: the superadmin for someone who is not staff ----------------------------------


def test_the_superadmin_tells_a_non_staff_user_it_is_for_staff(client, alice, charlie) -> None:
    client.force_login(charlie)
    response = client.get("/superadmin/", follow=True)
    assert response.status_code == 403
    page = response.content.decode()
    assert "The superadmin is for the platform's staff" in page
    assert "charlie@example.com" in page
    assert "permission on this project" not in page
    assert reverse("dashboard") in page


def test_the_superadmin_sends_anonymous_visitors_to_the_login_page(client, alice) -> None:
    response = client.get("/superadmin/", follow=True)
    assert response.redirect_chain[-1][0].startswith(reverse("account_login"))


# --- Bug 9: the credential form -------------------------------------------------------------


def test_the_add_credential_form_requires_a_value_and_says_so(client, project, bob) -> None:
    url = f"/projects/{project.pk}/credentials/"
    client.force_login(bob)
    page = client.get(url).content.decode()
    label = re.search(r'<label for="id_value">(.*?)</label>', page, re.S)
    assert label is not None
    assert label.group(1).strip() == "Value"  # not "Value (optional)"

    refused = client.post(url, {"name": "NEW_KEY", "value": ""})
    assert refused.status_code == 200
    assert re.search(r"id_value.*?needs a value when it is added", refused.content.decode(), re.S)
    assert client.post(url, {"name": "NEW_KEY", "value": "v1"}).status_code == 302


def test_a_credentials_row_changes_it_and_may_keep_its_value(client, project, bob) -> None:
    from components.credentials import credential_values

    url = f"/projects/{project.pk}/credentials/"
    client.force_login(bob)
    client.post(url, {"name": "STRIPE_KEY", "value": "sk_1"})
    page = client.get(url).content.decode()
    assert re.search(r'<label for="value-STRIPE_KEY">New value <span class="muted small">\(leave empty to keep\)', page)

    row = {"name": "STRIPE_KEY", "replace_hosts": "1", "allowed_hosts": "api.stripe.com"}
    kept = client.post(url, {**row, "value": ""})
    assert kept.status_code == 302
    assert credential_values(project=project) == {"STRIPE_KEY": "sk_1"}
    client.post(url, {**row, "value": "sk_2"})
    assert credential_values(project=project) == {"STRIPE_KEY": "sk_2"}
    assert "sk_2" not in client.get(url).content.decode()


# --- Bug 9: favicon, links to the API docs --------------------------------------------------


def test_favicon_ico_is_the_logo(client) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].endswith("/img/logo.svg")


def test_every_signed_in_page_and_the_keys_and_connect_pages_link_to_the_api_docs(client, project, bob) -> None:
    docs = reverse("api_docs")
    assert f'href="{docs}"' in client.get(reverse("landing")).content.decode()
    client.force_login(bob)
    for url in (reverse("dashboard"), reverse("project_keys", args=[project.pk])):
        assert f'href="{docs}"' in client.get(url).content.decode(), url
    connect = client.get(reverse("project_connect", args=[project.pk])).content.decode()
    assert f'<a href="{docs}">API reference</a>' in connect
    keys = client.get(reverse("project_keys", args=[project.pk])).content.decode()
    assert f'The full <a href="{docs}">API</a>' in keys


# --- Bug 9: the superadmin's sections ----------------------------------------------------------


def test_the_superadmin_has_one_accounts_section(client, alice) -> None:
    client.force_login(alice)  # the first user: superuser
    page = client.get("/superadmin/").content.decode()
    captions = re.findall(r'<caption>\s*<a href="[^"]*" class="section"[^>]*>([^<]+)</a>', page)
    assert captions.count("Accounts") == 1, captions
    assert "Sign-in addresses" in captions
    for section in ("Components", "Workflows"):
        assert section in captions


def test_the_superadmin_lists_builder_objects_but_never_a_credential_value(client, alice, project) -> None:
    from components.credentials import credential_set
    from components.models import Credential
    from tests.factories import make_component, make_workflow

    secret = "sk_live_do-not-show-this-9f3a"
    credential = credential_set(
        project=project, actor=alice, name="STRIPE_KEY", value=secret, allowed_hosts=["api.stripe.com"]
    )
    component = make_component(project=project, actor=alice, name="Greeter")
    workflow = make_workflow(project=project, actor=alice, name="Nightly", steps=[], publish=False)
    client.force_login(alice)
    pages = {
        "/superadmin/components/component/": component.name,
        f"/superadmin/components/component/{component.pk}/change/": component.name,
        "/superadmin/workflows/workflow/": workflow.name,
        f"/superadmin/workflows/workflow/{workflow.pk}/change/": workflow.name,
        "/superadmin/workflows/workflowexecution/": "0 workflow executions",
        "/superadmin/components/execution/": "0 executions",
        "/superadmin/components/credential/": "STRIPE_KEY",
        f"/superadmin/components/credential/{credential.pk}/change/": "api.stripe.com",
    }
    for url, expected in pages.items():
        response = client.get(url)
        html = response.content.decode()
        assert response.status_code == 200, url
        assert expected in html, url
        assert secret not in html, url
        assert credential.ciphertext not in html, url

    # The delete action goes through the service (its permission check and cleanup).
    response = client.post(
        "/superadmin/components/credential/",
        {"action": "delete_selected", "_selected_action": [credential.pk], "post": "yes"},
        follow=True,
    )
    assert response.status_code == 200
    assert not Credential.objects.filter(pk=credential.pk).exists()


def test_the_builder_admin_pages_are_for_staff_only(client, alice, charlie, project) -> None:
    client.force_login(charlie)
    for url in ("/superadmin/components/credential/", "/superadmin/workflows/workflowexecution/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/superadmin/login/")


def test_the_api_answers_in_utc_whatever_the_browsers_zone(client, project, bob) -> None:
    client.force_login(bob)
    client.cookies["tz"] = "Asia/Tokyo"
    answer = client.get(f"/api/v1/projects/{project.pk}/")
    assert answer.status_code == 200
    created = answer.json()["created_at"]
    assert created.endswith("Z"), created
