"""Projects in the web UI: list, create, the Info tab, delete, community projects.

Who may reach each page is in test_views_access.py; these tests follow the happy paths through
the real services and check the database.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import Membership, Permission, Project
from tests.factories import make_project, make_user

pytestmark = pytest.mark.django_db


def info(**changes: str) -> dict[str, str]:
    """A complete Info form, as a browser would post it."""
    return {
        "name": "Alice's project",
        "description": "",
        "icon": "",
        "color": "#4f46e5",
        "background_color": "#eef2ff",
        **changes,
    }


# --- list -----------------------------------------------------------------------------------


def test_it_lists_only_the_users_projects(client, project, bob, charlie):
    make_project(owner=charlie, name="Charlie's secret")
    client.force_login(bob)
    page = client.get(reverse("project_list")).content.decode()
    assert "Alice&#x27;s project" in page
    assert "Charlie&#x27;s secret" not in page


def test_it_offers_community_projects_to_join(client, project, charlie):
    make_project(owner=charlie, name="Open data", community=True)
    make_project(owner=charlie, name="Private stuff")
    client.force_login(project.owner())
    page = client.get(reverse("project_list")).content.decode()
    assert "Open data" in page
    assert "Private stuff" not in page
    assert reverse("project_join", args=[Project.objects.get(name="Open data").pk]) in page


def test_joining_a_community_project_makes_the_user_an_editor(client, alice, charlie):
    open_project = make_project(owner=alice, name="Open data", community=True)
    client.force_login(charlie)
    response = client.post(reverse("project_join", args=[open_project.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("project_detail", args=[open_project.pk])
    assert open_project.permission_of(charlie) == Permission.EDIT


def test_it_will_not_join_a_private_project(client, project, charlie):
    client.force_login(charlie)
    assert client.post(reverse("project_join", args=[project.pk])).status_code == 404
    assert project.permission_of(charlie) is None


# --- create ---------------------------------------------------------------------------------


def test_it_creates_a_project_owned_by_its_creator(client, charlie):
    client.force_login(charlie)
    data = info(name="Weather", description="Forecasts", icon="🌦", color="#0f766e", community="on")
    response = client.post(reverse("project_create"), data)
    project = Project.objects.get(name="Weather")
    assert response.status_code == 302
    assert response["Location"] == reverse("project_detail", args=[project.pk])
    assert project.owner() == charlie
    assert (project.description, project.icon, project.color, project.community) == (
        "Forecasts",
        "🌦",
        "#0f766e",
        True,
    )


def test_it_shows_form_errors_and_creates_nothing(client, charlie):
    client.force_login(charlie)
    response = client.post(reverse("project_create"), info(name="", color="red"))
    assert response.status_code == 200
    assert response.context["form"].errors.keys() == {"name", "color"}
    assert not Project.objects.exists()


def test_the_create_form_has_a_label_for_every_field(client, charlie):
    client.force_login(charlie)
    page = client.get(reverse("project_create")).content.decode()
    for field in ("name", "description", "icon", "color", "background_color", "community"):
        assert f'for="id_{field}"' in page
        assert f'id="id_{field}"' in page


# --- Info tab -------------------------------------------------------------------------------


def test_an_editor_saves_the_project_information(client, project, bob):
    client.force_login(bob)
    response = client.post(
        reverse("project_detail", args=[project.pk]), info(name="Renamed", description="New words", icon="🚀")
    )
    assert response.status_code == 302
    project.refresh_from_db()
    assert (project.name, project.description, project.icon) == ("Renamed", "New words", "🚀")


def test_only_the_owner_sees_and_sets_the_community_flag(client, project, alice, bob):
    url = reverse("project_detail", args=[project.pk])
    client.force_login(bob)
    assert 'name="community"' not in client.get(url).content.decode()
    client.post(url, info(community="on"))  # an editor's form has no such field: ignored
    project.refresh_from_db()
    assert not project.community

    client.force_login(alice)
    assert 'name="community"' in client.get(url).content.decode()
    client.post(url, info(community="on"))
    project.refresh_from_db()
    assert project.community


def test_a_viewer_sees_the_information_read_only(client, project, alice):
    viewer = make_user(email="victor@example.com")
    Membership.objects.create(project=project, user=viewer, permission=Permission.VIEW)
    client.force_login(viewer)
    page = client.get(reverse("project_detail", args=[project.pk])).content.decode()
    assert "Read only" in page
    assert "Save changes" not in page
    assert 'name="name"' in page
    assert "disabled" in page


def test_invalid_information_is_not_saved(client, project, bob):
    client.force_login(bob)
    response = client.post(reverse("project_detail", args=[project.pk]), info(name="", background_color="blue"))
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"name", "background_color"}
    project.refresh_from_db()
    assert project.name == "Alice's project"


# --- delete ---------------------------------------------------------------------------------


def test_deleting_needs_the_name_typed_back(client, project, alice):
    client.force_login(alice)
    response = client.post(reverse("project_delete", args=[project.pk]), {"confirm_name": "alice's project"})
    assert response.status_code == 200
    assert "type the project" in response.content.decode()
    assert Project.objects.filter(pk=project.pk).exists()


def test_the_owner_deletes_the_project(client, project, alice):
    client.force_login(alice)
    response = client.post(reverse("project_delete", args=[project.pk]), {"confirm_name": "Alice's project"})
    assert response.status_code == 302
    assert response["Location"] == reverse("project_list")
    assert not Project.objects.filter(pk=project.pk).exists()
