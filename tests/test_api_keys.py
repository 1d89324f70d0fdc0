from __future__ import annotations

import hashlib

import pytest
from django.urls import include, path
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView

from accounts import services
from accounts.authentication import PUBLIC_KEY_HEADER, PublishableKeyAuthentication, SecretKeyAuthentication
from accounts.models import ApiKey, ApiKeyKind, Membership, Permission, Plan
from tests.apiclient import API, anonymous, make_key, project_url, signed_in, with_secret_key
from tests.factories import make_project

pytestmark = pytest.mark.django_db


def endpoints(project, key):  # type: ignore[no-untyped-def]
    """Every key endpoint of the project, as (method, URL, body)."""
    return [
        ("get", project_url(project, "keys/"), None),
        ("post", project_url(project, "keys/"), {"kind": "secret"}),
        ("get", project_url(project, f"keys/{key.pk}/"), None),
        ("patch", project_url(project, f"keys/{key.pk}/"), {"allowed_origins": ["https://evil.example"]}),
        ("delete", project_url(project, f"keys/{key.pk}/"), None),
        ("post", project_url(project, f"keys/{key.pk}/revoke/"), None),
    ]


def call(client, method: str, url: str, body: dict | None = None):  # type: ignore[no-untyped-def]
    return getattr(client, method)(url, body, format="json")


@pytest.fixture
def public_key(project, alice):  # type: ignore[no-untyped-def]
    key, _ = make_key(project=project, actor=alice, kind=ApiKeyKind.PUBLISHABLE)
    return key


# --- access to the key endpoints ----------------------------------------------------------


def test_it_rejects_outsider_on_every_endpoint(project, charlie, public_key):
    client = signed_in(charlie)
    for method, url, body in endpoints(project, public_key):
        assert call(client, method, url, body).status_code == 404, (method, url)
    public_key.refresh_from_db()
    assert public_key.is_active
    assert public_key.allowed_origins == []
    assert ApiKey.objects.count() == 1


def test_it_requires_authentication(project, public_key):
    for method, url, body in endpoints(project, public_key):
        assert call(anonymous(), method, url, body).status_code == 401, (method, url)


def test_viewer_can_read_keys_but_not_manage_them(project, charlie, public_key):
    Membership.objects.create(project=project, user=charlie, permission=Permission.VIEW)
    client = signed_in(charlie)
    for method, url, body in endpoints(project, public_key):
        expected = 200 if method == "get" else 403
        assert call(client, method, url, body).status_code == expected, (method, url)
    public_key.refresh_from_db()
    assert public_key.is_active
    assert ApiKey.objects.count() == 1


def test_editor_manages_keys(project, bob, public_key):
    client = signed_in(bob)
    created = client.post(project_url(project, "keys/"), {"name": "ci"}, format="json")
    assert created.status_code == 201
    patched = client.patch(
        project_url(project, f"keys/{public_key.pk}/"), {"allowed_origins": ["https://app.example.com/"]}, format="json"
    )
    assert patched.status_code == 200
    assert patched.json()["allowed_origins"] == ["https://app.example.com"]
    revoked = client.post(project_url(project, f"keys/{created.json()['id']}/revoke/"))
    assert revoked.status_code == 200
    assert revoked.json()["revoked"] is True


def test_a_key_of_another_project_is_a_404(project, alice, public_key):
    other = make_project(owner=alice, name="Other")
    client = signed_in(alice)
    assert client.get(project_url(other, f"keys/{public_key.pk}/")).status_code == 404
    assert client.post(project_url(other, f"keys/{public_key.pk}/revoke/")).status_code == 404
    public_key.refresh_from_db()
    assert public_key.is_active


# --- create, list, revoke -----------------------------------------------------------------


def test_it_shows_a_new_key_once_and_stores_only_its_digest(project, alice):
    client = signed_in(alice)
    response = client.post(project_url(project, "keys/"), {"kind": "secret", "name": "deploy"}, format="json")
    assert response.status_code == 201, response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    plaintext = body["key"]
    assert plaintext.startswith("sk_")
    assert body["prefix"] == plaintext[:11]
    assert (body["kind"], body["name"], body["revoked"]) == ("secret", "deploy", False)
    assert "digest" not in body

    stored = ApiKey.objects.get(pk=body["id"])
    assert stored.digest == hashlib.sha256(plaintext.encode()).hexdigest()
    for field in ApiKey._meta.concrete_fields:
        assert plaintext not in str(getattr(stored, field.attname)), field.name

    listed = client.get(project_url(project, "keys/")).content.decode()
    assert plaintext not in listed
    assert stored.digest not in listed
    assert "key" not in client.get(project_url(project, f"keys/{stored.pk}/")).json()


def test_the_list_shows_what_a_person_needs_to_recognise_a_key(project, alice, public_key):
    body = signed_in(alice).get(project_url(project, "keys/")).json()
    assert body["count"] == 1
    assert set(body["results"][0]) == {
        "id",
        "name",
        "kind",
        "prefix",
        "allowed_origins",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked",
        "revoked_at",
    }


def test_key_list_runs_a_fixed_number_of_queries(project, alice, bob, django_assert_max_num_queries):
    for _ in range(4):
        make_key(project=project, actor=alice)
        make_key(project=project, actor=bob)
    client = signed_in(alice)
    # session + user, project with permission, count, page (creators joined)
    with django_assert_max_num_queries(5):
        response = client.get(project_url(project, "keys/"))
    assert response.json()["count"] == 8


def test_a_new_publishable_key_revokes_the_previous_one(project, alice, public_key):
    response = signed_in(alice).post(
        project_url(project, "keys/"),
        {"kind": "publishable", "allowed_origins": ["https://app.example.com"]},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["key"].startswith("pk_")
    assert response.json()["allowed_origins"] == ["https://app.example.com"]
    public_key.refresh_from_db()
    assert not public_key.is_active


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "secret", "allowed_origins": ["https://app.example.com"]},  # the service refuses
        {"kind": "publishable", "allowed_origins": ["app.example.com"]},
        {"kind": "publishable", "allowed_origins": ["https://app.example.com/path"]},
        {"kind": "publishable", "allowed_origins": ["javascript://x"]},
    ],
)
def test_create_names_the_invalid_origins(project, alice, body):
    response = signed_in(alice).post(project_url(project, "keys/"), body, format="json")
    assert response.status_code == 400
    assert "allowed_origins" in response.json()["errors"], response.json()
    assert not ApiKey.objects.exists()


def test_create_names_an_unknown_kind(project, alice):
    response = signed_in(alice).post(project_url(project, "keys/"), {"kind": "master"}, format="json")
    assert response.status_code == 400
    assert "kind" in response.json()["errors"]


def test_a_secret_key_has_no_origin_list(project, alice):
    key, _ = make_key(project=project, actor=alice)
    response = signed_in(alice).patch(
        project_url(project, f"keys/{key.pk}/"), {"allowed_origins": ["https://app.example.com"]}, format="json"
    )
    assert response.status_code == 400
    assert "allowed_origins" in response.json()["errors"]


def test_delete_revokes_a_key(project, alice):
    key, raw = make_key(project=project, actor=alice)
    assert signed_in(alice).delete(project_url(project, f"keys/{key.pk}/")).status_code == 204
    key.refresh_from_db()
    assert not key.is_active
    assert with_secret_key(raw).get(f"{API}/projects/").status_code == 401
    # The record stays, so the list still says what was revoked and when.
    listed = signed_in(alice).get(project_url(project, "keys/")).json()["results"]
    assert listed[0]["revoked"] is True
    assert listed[0]["revoked_at"] is not None


# --- authentication with a secret key -----------------------------------------------------


def test_a_secret_key_authenticates_as_its_creator(project, bob):
    _, raw = make_key(project=project, actor=bob)
    response = with_secret_key(raw).get(f"{API}/me/")
    assert response.status_code == 200
    assert response.json()["email"] == "bob@example.com"
    assert response.json()["api_key"]["project"] == project.pk


def test_a_secret_key_sees_only_its_own_project(project, alice):
    other = make_project(owner=alice, name="Other")
    _, raw = make_key(project=project, actor=alice)
    client = with_secret_key(raw)
    listed = client.get(f"{API}/projects/").json()["results"]
    assert [p["id"] for p in listed] == [project.pk]
    assert client.get(project_url(project)).status_code == 200
    assert client.get(project_url(other)).status_code == 404
    assert client.get(project_url(other, "keys/")).status_code == 404
    assert client.get(project_url(other, "members/")).status_code == 404
    assert client.patch(project_url(other), {"name": "x"}, format="json").status_code == 404


def test_a_secret_key_acts_with_its_creators_permission(project, alice, bob):
    _, raw = make_key(project=project, actor=bob)
    client = with_secret_key(raw)
    assert client.patch(project_url(project), {"name": "Renamed"}, format="json").status_code == 200
    assert client.delete(project_url(project), {"confirm_name": "Renamed"}, format="json").status_code == 403


def test_a_revoked_key_is_refused(project, alice):
    key, raw = make_key(project=project, actor=alice)
    services.api_key_revoke(key=key, actor=alice)
    assert with_secret_key(raw).get(f"{API}/projects/").status_code == 401


@pytest.mark.parametrize("header", ["Bearer sk_not-a-real-key", "Bearer", "Bearer sk_a sk_b"])
def test_an_unknown_or_malformed_key_is_refused(project, header):
    client = anonymous()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(f"{API}/projects/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_publishable_key_is_not_a_bearer_key(project, alice):
    _, raw = make_key(project=project, actor=alice, kind=ApiKeyKind.PUBLISHABLE)
    assert with_secret_key(raw).get(f"{API}/projects/").status_code == 401


def test_a_key_stops_working_when_its_creator_leaves(project, alice, bob):
    _, raw = make_key(project=project, actor=bob)
    assert with_secret_key(raw).get(f"{API}/projects/").status_code == 200
    services.member_remove(project=project, actor=alice, user=bob)
    assert with_secret_key(raw).get(f"{API}/projects/").status_code == 401


def test_using_a_key_records_when(project, alice):
    key, raw = make_key(project=project, actor=alice)
    assert key.last_used_at is None
    assert with_secret_key(raw).get(f"{API}/projects/").status_code == 200
    key.refresh_from_db()
    assert key.last_used_at is not None
    listed = signed_in(alice).get(project_url(project, "keys/")).json()["results"]
    assert listed[0]["last_used_at"] is not None


def test_a_secret_key_without_csrf_token_may_write(project, alice):
    _, raw = make_key(project=project, actor=alice)
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.patch(project_url(project), {"name": "Renamed"}, format="json").status_code == 200


# --- per-key rate limit -------------------------------------------------------------------


@pytest.fixture
def three_a_minute(alice):  # type: ignore[no-untyped-def]
    plan = Plan.objects.create(name="Tiny", slug="tiny", rate_limit="3/min")
    services.user_set_plan(user=alice, plan=plan)
    return plan


def test_a_key_is_throttled_at_its_owners_plan_rate(project, alice, three_a_minute):
    _, raw = make_key(project=project, actor=alice)
    client = with_secret_key(raw)
    statuses = [client.get(f"{API}/projects/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert int(client.get(f"{API}/me/")["Retry-After"]) > 0


def test_each_key_has_its_own_budget_and_sessions_are_not_throttled(project, alice, bob, three_a_minute):
    _, first = make_key(project=project, actor=alice)
    _, second = make_key(project=project, actor=bob)  # counted against Alice's plan: she owns the project
    for _ in range(3):
        assert with_secret_key(first).get(f"{API}/me/").status_code == 200
    assert with_secret_key(first).get(f"{API}/me/").status_code == 429
    assert with_secret_key(second).get(f"{API}/me/").status_code == 200
    session = signed_in(alice)
    assert all(session.get(f"{API}/me/").status_code == 200 for _ in range(5))


# --- publishable keys ---------------------------------------------------------------------


class HasApiKey(BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        return isinstance(request.auth, ApiKey)


class RunProbe(APIView):
    """Stands in for a run endpoint: it accepts publishable keys."""

    allows_publishable_key = True
    authentication_classes = [PublishableKeyAuthentication, SecretKeyAuthentication, SessionAuthentication]
    permission_classes = [HasApiKey]

    def post(self, request: Request) -> Response:
        return Response({"project": request.auth.project_id, "kind": request.auth.kind})


class NotARunEndpoint(RunProbe):
    allows_publishable_key = False


urlpatterns = [
    path("api/v1/", include("accounts.api.urls")),
    path("probe/run/", RunProbe.as_view()),
    path("probe/other/", NotARunEndpoint.as_view()),
]


def public_client(raw: str, origin: str | None = None):  # type: ignore[no-untyped-def]
    client = anonymous()
    headers = {PUBLIC_KEY_HEADER: raw}
    if origin:
        headers["Origin"] = origin
    client.credentials(**{f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()})
    return client


@pytest.mark.urls(__name__)
def test_a_publishable_key_runs_on_a_run_endpoint(project, alice):
    _, raw = make_key(project=project, actor=alice, kind=ApiKeyKind.PUBLISHABLE)
    response = public_client(raw).post("/probe/run/")
    assert response.status_code == 200
    assert response.json() == {"project": project.pk, "kind": "publishable"}


@pytest.mark.urls(__name__)
def test_a_publishable_key_is_refused_everywhere_else(project, alice):
    _, raw = make_key(project=project, actor=alice, kind=ApiKeyKind.PUBLISHABLE)
    client = public_client(raw)
    assert client.post("/probe/other/").status_code == 403
    assert client.get(f"{API}/projects/").status_code == 401
    assert client.get(project_url(project, "keys/")).status_code == 401
    assert client.post(project_url(project, "keys/"), {"kind": "secret"}, format="json").status_code == 401
    assert ApiKey.objects.count() == 1


@pytest.mark.urls(__name__)
def test_a_publishable_key_honours_its_origin_list(project, alice):
    _, raw = make_key(
        project=project, actor=alice, kind=ApiKeyKind.PUBLISHABLE, allowed_origins=["https://app.example.com"]
    )
    assert public_client(raw, origin="https://app.example.com").post("/probe/run/").status_code == 200
    assert public_client(raw, origin="https://evil.example.com").post("/probe/run/").status_code == 403
    assert public_client(raw).post("/probe/run/").status_code == 403


@pytest.mark.urls(__name__)
def test_a_revoked_or_unknown_publishable_key_is_refused(project, alice):
    key, raw = make_key(project=project, actor=alice, kind=ApiKeyKind.PUBLISHABLE)
    services.api_key_revoke(key=key, actor=alice)
    assert public_client(raw).post("/probe/run/").status_code == 401
    assert public_client("pk_unknown").post("/probe/run/").status_code == 401


@pytest.mark.urls(__name__)
def test_a_publishable_key_is_throttled_too(project, alice, three_a_minute):
    _, raw = make_key(project=project, actor=alice, kind=ApiKeyKind.PUBLISHABLE)
    client = public_client(raw)
    assert [client.post("/probe/run/").status_code for _ in range(4)] == [200, 200, 200, 429]
