"""The component pages: list, create, duplicate, delete, editor tabs, and who may reach each."""

from __future__ import annotations

import pytest
from django.urls import reverse

from components import services
from components.models import Component
from tests.factories import make_project

pytestmark = pytest.mark.django_db

PAGES = ("components_editor", "components_settings", "components_export", "components_syntax", "components_versions")


@pytest.fixture
def component(project, alice):  # type: ignore[no-untyped-def]
    return services.component_create(
        project=project,
        actor=alice,
        name="Adder",
        inputs=[{"name": "a", "type": "number"}, {"name": "b", "type": "number"}],
        outputs=[{"name": "sum", "type": "number"}],
        code="def run(inputs, ctx):\n    return {'sum': inputs['a'] + inputs['b']}\n",
    )


@pytest.fixture
def viewer(project, charlie):  # type: ignore[no-untyped-def]
    """Charlie, made a view-only member."""
    from accounts.models import Membership

    Membership.objects.create(project=project, user=charlie, permission="view")
    return charlie


# --- list -----------------------------------------------------------------------------------


def test_it_lists_components_grouped_by_the_users_projects(client, component, bob, charlie):
    other = make_project(owner=charlie, name="Charlie's secret")
    services.component_create(project=other, actor=charlie, name="Hidden")
    client.force_login(bob)
    page = client.get(reverse("components_home")).content.decode()
    assert "Alice&#x27;s project" in page
    assert "Adder" in page
    assert "Hidden" not in page
    assert 'data-synchronise-subscribe="listComponents"' in page
    assert reverse("components_project_list", args=[component.project_id]) in page


def test_the_project_fragment_refreshes_alone(client, component, bob, charlie):
    client.force_login(bob)
    response = client.get(reverse("components_project_list", args=[component.project_id]))
    assert response.status_code == 200
    assert "Adder" in response.content.decode()
    client.force_login(charlie)
    assert client.get(reverse("components_project_list", args=[component.project_id])).status_code == 404


def test_it_creates_a_component_and_opens_the_editor(client, project, bob):
    client.force_login(bob)
    response = client.post(reverse("components_create"), {"name": "Fetcher", "project": project.pk, "kind": "http"})
    created = Component.objects.get(name="Fetcher")
    assert response.status_code == 302
    assert response["Location"] == reverse("components_editor", args=[created.pk])
    assert created.kind == "http"
    assert created.created_by == bob


def test_create_starts_code_with_a_run_function(client, project, bob):
    client.force_login(bob)
    client.post(reverse("components_create"), {"name": "Coder", "project": project.pk, "kind": "code"})
    assert "def run(inputs, ctx)" in Component.objects.get(name="Coder").code


def test_create_rejects_a_project_the_user_cannot_edit(client, project, viewer):
    client.force_login(viewer)
    response = client.post(reverse("components_create"), {"name": "Nope", "project": project.pk, "kind": "code"})
    assert response.status_code == 400
    assert not Component.objects.filter(name="Nope").exists()


def test_create_needs_a_name(client, project, bob):
    client.force_login(bob)
    response = client.post(reverse("components_create"), {"name": "", "project": project.pk, "kind": "code"})
    assert response.status_code == 400
    assert "This field is required" in response.content.decode()


def test_it_duplicates_a_component(client, component, bob):
    client.force_login(bob)
    response = client.post(reverse("components_duplicate", args=[component.pk]))
    copy = Component.objects.get(name="Adder (copy)")
    assert response["Location"] == reverse("components_editor", args=[copy.pk])
    assert copy.inputs == component.inputs


def test_it_deletes_after_confirmation(client, component, bob):
    client.force_login(bob)
    page = client.get(reverse("components_delete", args=[component.pk]))
    assert "Delete this component" in page.content.decode()
    assert Component.objects.filter(pk=component.pk).exists()
    response = client.post(reverse("components_delete", args=[component.pk]))
    assert response["Location"] == reverse("components_home")
    assert not Component.objects.filter(pk=component.pk).exists()


# --- editor ---------------------------------------------------------------------------------


def test_the_editor_shows_code_interface_and_controls_to_editors(client, component, bob):
    client.force_login(bob)
    page = client.get(reverse("components_editor", args=[component.pk])).content.decode()
    assert 'id="editor-config"' in page
    assert "vendor/codemirror/codemirror.min.js" in page
    assert ">Save</button>" in page
    assert "Publish version" in page
    assert "Run the draft" in page
    assert "Delete…" in page


def test_the_editor_shows_an_http_spec_as_json(client, project, bob):
    component = services.component_create(project=project, actor=bob, name="Fetcher", kind="http")
    client.force_login(bob)
    page = client.get(reverse("components_editor", args=[component.pk])).content.decode()
    assert 'id="http-spec"' in page
    assert 'data-testid="code-editor"' not in page


def test_syntax_reports_where_the_saved_code_fails(client, component, bob):
    services.component_update(component=component, actor=bob, code="def run(inputs, ctx):\n    return {\n\nx = (")
    client.force_login(bob)
    error = client.get(reverse("components_syntax", args=[component.pk])).json()["error"]
    assert error["line"] >= 2
    services.component_update(component=component, actor=bob, code="def run(inputs, ctx):\n    return {}\n")
    assert client.get(reverse("components_syntax", args=[component.pk])).json() == {"error": None}


def test_settings_change_name_tags_and_public(client, component, bob):
    client.force_login(bob)
    response = client.post(
        reverse("components_settings", args=[component.pk]),
        {"name": "Sum", "description": "Adds", "tags": "math, numbers ,", "public": "on"},
    )
    assert response.status_code == 302
    component.refresh_from_db()
    assert (component.name, component.description, component.tags, component.public) == (
        "Sum",
        "Adds",
        ["math", "numbers"],
        True,
    )


def test_settings_show_service_errors(client, component, bob):
    client.force_login(bob)
    response = client.post(reverse("components_settings", args=[component.pk]), {"name": "   ", "tags": ""})
    assert response.status_code == 200
    component.refresh_from_db()
    assert component.name == "Adder"


def test_export_fills_in_the_component_id_and_key_prefix(client, component, bob):
    client.force_login(bob)
    page = client.get(reverse("components_export", args=[component.pk])).content.decode()
    assert f"/api/v1/components/{component.pk}/run" in page
    assert "x-synchronise-public-key" in page
    assert "synchronise_client" in page
    assert "/component/run" in page
    assert f"&quot;id&quot;: {component.pk}" in page


def test_versions_fragment_lists_published_versions(client, component, bob):
    services.component_publish(component=component, actor=bob, changelog="first cut")
    client.force_login(bob)
    page = client.get(reverse("components_versions", args=[component.pk])).content.decode()
    assert "v1" in page
    assert "first cut" in page


# --- access ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PAGES)
def test_it_rejects_outsider_on_every_page(client, component, charlie, name):
    client.force_login(charlie)
    assert client.get(reverse(name, args=[component.pk])).status_code == 404


@pytest.mark.parametrize("name", ["components_duplicate", "components_delete", "components_settings"])
def test_it_rejects_outsider_on_every_write(client, component, charlie, name):
    client.force_login(charlie)
    assert client.post(reverse(name, args=[component.pk]), {"name": "x"}).status_code == 404
    assert Component.objects.filter(pk=component.pk, name="Adder").exists()


def test_it_answers_404_for_unknown_components(client, bob):
    client.force_login(bob)
    assert client.get(reverse("components_editor", args=[999999])).status_code == 404


def test_it_requires_login(client, component):
    response = client.get(reverse("components_editor", args=[component.pk]))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("name", PAGES)
def test_a_viewer_reads_every_page(client, component, viewer, name):
    client.force_login(viewer)
    assert client.get(reverse(name, args=[component.pk])).status_code == 200


def test_a_viewer_sees_no_edit_controls(client, component, viewer):
    client.force_login(viewer)
    page = client.get(reverse("components_editor", args=[component.pk])).content.decode()
    assert ">Save</button>" not in page
    assert "Publish version" not in page
    assert "Delete…" not in page
    listing = client.get(reverse("components_home")).content.decode()
    assert "Adder" in listing
    assert "Duplicate" not in listing
    assert "Create component" not in listing
    settings = client.get(reverse("components_settings", args=[component.pk])).content.decode()
    assert "Save settings" not in settings


@pytest.mark.parametrize("name", ["components_duplicate", "components_delete", "components_settings"])
def test_it_requires_edit_access_for_writes(client, component, viewer, name):
    client.force_login(viewer)
    assert client.post(reverse(name, args=[component.pk]), {"name": "x"}).status_code == 403
    assert Component.objects.filter(pk=component.pk, name="Adder").count() == 1


def test_the_side_menu_marks_components_current(client, component, bob):
    client.force_login(bob)
    page = client.get(reverse("components_home")).content.decode()
    assert f'href="{reverse("components_home")}" aria-current="page"' in page


def test_credentials_page_is_write_only_and_members_only(client, alice, bob, charlie, project):
    from components.models import Credential

    url = f"/projects/{project.pk}/credentials/"
    client.force_login(bob)
    response = client.post(url, {"name": "STRIPE_KEY", "value": "sk_live_visible_never"})
    assert response.status_code == 302
    page = client.get(url).content.decode()
    assert "STRIPE_KEY" in page
    assert "sk_live_visible_never" not in page
    assert Credential.objects.get(project=project).ciphertext.startswith("v1:")
    bad = client.post(url, {"name": "lower", "value": "x"})
    assert bad.status_code == 200
    assert "Capitals" in bad.content.decode() or "capitals" in bad.content.decode().lower()

    client.force_login(charlie)
    assert client.get(url).status_code == 404
    assert client.post(url, {"delete": "STRIPE_KEY"}).status_code == 404

    from accounts import services as account_services

    account_services.member_invite(project=project, actor=alice, email=charlie.email, permission="view")
    assert client.get(url).status_code == 200
    assert client.post(url, {"delete": "STRIPE_KEY"}).status_code == 403

    client.force_login(bob)
    assert client.post(url, {"delete": "STRIPE_KEY"}).status_code == 302
    assert not Credential.objects.filter(project=project).exists()
