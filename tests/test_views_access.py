"""Who may open and post every page of a project in the web UI.

Outsiders get 404 (a project's existence does not leak), members whose permission is too low
get 403, anonymous visitors are sent to the login page, and nothing changes in the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.urls import reverse

from accounts import services
from accounts.models import ApiKey, ApiKeyKind, Invitation, Membership, Permission, Project
from tests.factories import make_user

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Page:
    method: str
    name: str
    needs: str  # the lowest permission that may use it
    data: dict[str, str] | None = None
    extra: str | None = None  # which object id the URL also carries: "member", "invitation", "key"

    def url(self, world: dict[str, Any]) -> str:
        kwargs: dict[str, int] = {"pk": world["project"].pk}
        if self.extra == "member":
            kwargs["user_id"] = world["bob"].pk
        elif self.extra == "invitation":
            kwargs["invitation_id"] = world["invitation"].pk
        elif self.extra == "key":
            kwargs["key_id"] = world["secret"].pk
        return reverse(self.name, kwargs=kwargs)

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.name}"


PROJECT_INFO = {
    "name": "Renamed",
    "description": "",
    "icon": "",
    "color": "#000000",
    "background_color": "#ffffff",
}

PAGES = [
    Page("get", "project_detail", Permission.VIEW),
    Page("post", "project_detail", Permission.EDIT, PROJECT_INFO),
    Page("get", "project_header", Permission.VIEW),
    Page("get", "project_delete", Permission.OWN),
    Page("post", "project_delete", Permission.OWN, {"confirm_name": "Alice's project"}),
    Page("get", "project_team", Permission.VIEW),
    Page("post", "project_member_invite", Permission.OWN, {"email": "new@example.com", "permission": "view"}),
    Page("post", "project_member_permission", Permission.OWN, {"permission": "view"}, "member"),
    Page("post", "project_member_remove", Permission.OWN, {}, "member"),
    Page("post", "project_invitation_cancel", Permission.OWN, {}, "invitation"),
    Page("post", "project_transfer", Permission.OWN, {"new_owner": "BOB"}),
    Page("post", "project_leave", Permission.VIEW, {}),
    Page("get", "project_keys", Permission.VIEW),
    Page("post", "project_secret_key_create", Permission.EDIT, {"name": "ci"}),
    Page("post", "project_publishable_key_create", Permission.EDIT, {}),
    Page("post", "project_publishable_key_origins", Permission.EDIT, {"allowed_origins": "https://a.example"}),
    Page("post", "project_key_revoke", Permission.EDIT, {}, "key"),
    Page("get", "project_connect", Permission.VIEW),
]
WRITES = [page for page in PAGES if page.method == "post"]


@pytest.fixture
def world(alice, bob):  # type: ignore[no-untyped-def]
    """Alice owns the project, Bob edits it, Victor views it, Charlie is an outsider (created last)."""
    victor = make_user(email="victor@example.com", name="Victor")
    charlie = make_user(email="charlie@example.com", name="Charlie")
    project = services.project_create(owner=alice, name="Alice's project")
    Membership.objects.create(project=project, user=bob, permission=Permission.EDIT)
    Membership.objects.create(project=project, user=victor, permission=Permission.VIEW)
    invitation = services.member_invite(project=project, actor=alice, email="later@example.com").invitation
    secret, _ = services.api_key_create(project=project, actor=alice, name="server")
    services.api_key_create(project=project, actor=alice, kind=ApiKeyKind.PUBLISHABLE)
    return {
        "project": project,
        "alice": alice,
        "bob": bob,
        "victor": victor,
        "charlie": charlie,
        "invitation": invitation,
        "secret": secret,
    }


def snapshot(project: Project) -> tuple[Any, ...]:
    """Everything a write could have changed."""
    return (
        Project.objects.filter(pk=project.pk).values_list("name", "community").first(),
        sorted(Membership.objects.filter(project=project).values_list("user__email", "permission")),
        sorted(Invitation.objects.filter(project=project).values_list("email", flat=True)),
        sorted(ApiKey.objects.filter(project=project).values_list("prefix", "revoked_at", "allowed_origins")),
    )


def send(client, page: Page, world: dict[str, Any]):  # type: ignore[no-untyped-def]
    data = dict(page.data or {})
    if data.get("new_owner") == "BOB":
        data["new_owner"] = str(world["bob"].pk)
    return getattr(client, page.method)(page.url(world), data)


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_it_sends_anonymous_visitors_to_log_in(client, world, page):
    before = snapshot(world["project"])
    response = send(client, page, world)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert snapshot(world["project"]) == before


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_it_rejects_outsider(client, world, page):
    before = snapshot(world["project"])
    client.force_login(world["charlie"])
    response = send(client, page, world)
    assert response.status_code == 404
    assert snapshot(world["project"]) == before


@pytest.mark.parametrize("page", [p for p in WRITES if p.needs != Permission.VIEW], ids=str)
def test_it_denies_writes_to_a_view_only_member(client, world, page):
    before = snapshot(world["project"])
    client.force_login(world["victor"])
    response = send(client, page, world)
    assert response.status_code == 403
    assert snapshot(world["project"]) == before


@pytest.mark.parametrize("page", [p for p in PAGES if p.needs == Permission.OWN], ids=str)
def test_it_keeps_owner_actions_from_an_editor(client, world, page):
    before = snapshot(world["project"])
    client.force_login(world["bob"])
    response = send(client, page, world)
    assert response.status_code == 403
    assert snapshot(world["project"]) == before


@pytest.mark.parametrize("page", [p for p in PAGES if p.method == "get" and p.needs == Permission.VIEW], ids=str)
def test_every_member_can_read_the_project_pages(client, world, page):
    for member in ("alice", "bob", "victor"):
        client.force_login(world[member])
        assert send(client, page, world).status_code == 200, member


def test_it_does_not_reach_another_projects_key_through_this_project(client, world):
    charlies = services.project_create(owner=world["charlie"], name="Charlie's project")
    key, _ = services.api_key_create(project=charlies, actor=world["charlie"], name="theirs")
    client.force_login(world["alice"])
    response = client.post(reverse("project_key_revoke", args=[world["project"].pk, key.pk]))
    assert response.status_code == 404
    key.refresh_from_db()
    assert key.is_active


def test_it_does_not_change_members_of_another_project_through_this_project(client, world):
    charlies = services.project_create(owner=world["charlie"], name="Charlie's project")
    dave = make_user(email="dave@example.com")
    Membership.objects.create(project=charlies, user=dave, permission=Permission.EDIT)
    client.force_login(world["alice"])
    url = reverse("project_member_permission", args=[world["project"].pk, dave.pk])
    assert client.post(url, {"permission": "view"}).status_code == 404
    assert client.post(reverse("project_member_remove", args=[world["project"].pk, dave.pk])).status_code == 404
    assert Membership.objects.get(project=charlies, user=dave).permission == Permission.EDIT
