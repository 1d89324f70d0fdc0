"""``/api/v1/marketplace/…``: public reads (signed out too), search and tags, submit for editors,
fork into a project, the author's status and a fork's "update available", and the schema."""

from __future__ import annotations

import pytest

from components import services as component_services
from components.marketplace import services
from components.marketplace.models import Collection, Fork
from components.runs import run_start
from tests.apiclient import API, anonymous, make_key, signed_in, with_secret_key
from tests.factories import make_project
from tests.marketplace_setup import CODE_V2, listed, make_greeter, make_validator, submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def vera(alice):  # type: ignore[no-untyped-def]
    return make_validator()


@pytest.fixture
def listing(alice, project, vera):  # type: ignore[no-untyped-def]
    return listed(make_greeter(project=project, actor=alice), alice, vera, icon="👋")


def test_signed_out_people_list_search_and_read(listing, alice, project, vera):
    pending = make_greeter(project=project, actor=alice, name="Secret plan")
    submit(pending, alice, description="not public yet", tags=["hidden"])
    client = anonymous()
    listed_names = [entry["name"] for entry in client.get(f"{API}/marketplace/components/").json()]
    assert listed_names == ["Greeter"]
    assert [e["id"] for e in client.get(f"{API}/marketplace/components/", {"q": "hello"}).json()] == [listing.pk]
    assert client.get(f"{API}/marketplace/components/", {"q": "secret"}).json() == []
    assert [e["id"] for e in client.get(f"{API}/marketplace/components/", {"tag": "greeting"}).json()] == [listing.pk]
    assert client.get(f"{API}/marketplace/components/", {"tag": "greet"}).json() == []  # tags match whole
    by_publisher = client.get(f"{API}/marketplace/components/", {"publisher": project.pk}).json()
    assert [e["id"] for e in by_publisher] == [listing.pk]
    detail = client.get(f"{API}/marketplace/components/{listing.pk}/").json()
    assert detail["inputs"] == [{"name": "name", "type": "text"}]
    assert detail["code"].startswith("def run")
    assert detail["versions"] == [{"number": 1, "approved_at": detail["versions"][0]["approved_at"]}]
    assert detail["publisher"] == {"id": project.pk, "name": project.name}
    unlisted = pending.listing.pk
    assert client.get(f"{API}/marketplace/components/{unlisted}/").status_code == 404
    assert client.get(f"{API}/marketplace/components/", {"order": "sideways"}).status_code == 400


def test_most_used_counts_forks_and_runs(alice, charlie, project, vera, django_capture_on_commit_callbacks):
    busy = listed(make_greeter(project=project, actor=alice, name="Busy"), alice, vera)
    quiet = listed(make_greeter(project=project, actor=alice, name="Quiet"), alice, vera)
    fork, _ = services.component_fork(listing=busy, project=make_project(owner=charlie), actor=charlie)
    with django_capture_on_commit_callbacks():  # counted when started; no worker needed
        run_start(component=fork, inputs={"name": "Ada"})
    client = anonymous()
    assert [e["name"] for e in client.get(f"{API}/marketplace/components/").json()] == ["Quiet", "Busy"]
    popular = client.get(f"{API}/marketplace/components/", {"order": "popular"}).json()
    assert [(e["name"], e["forks"], e["runs"]) for e in popular] == [("Busy", 1, 1), ("Quiet", 0, 0)]
    assert quiet.pk != busy.pk


def test_collections_list_the_curated_sections_and_the_official_connectors(listing):
    collection = services.collection_save(collection=Collection(title="Starters", slug="starters"), listings=[listing])
    body = anonymous().get(f"{API}/marketplace/collections/").json()
    assert [c["slug"] for c in body["collections"]] == [collection.slug]
    assert [e["id"] for e in body["collections"][0]["listings"]] == [listing.pk]
    assert len(body["official"]) >= 1
    assert all(entry["connector"] for entry in body["official"])


def test_an_editor_submits_and_reads_the_state_and_the_reason(alice, bob, project, vera):
    component = make_greeter(project=project, actor=bob)
    client = signed_in(bob)
    body = {"component": component.pk, "description": "Says hello.", "tags": ["Hello"], "closed_source": True}
    response = client.post(f"{API}/marketplace/submissions/", body, format="json")
    assert response.status_code == 201
    created = response.json()
    assert (created["state"], created["version"], created["tags"], created["closed_source"]) == (
        "submitted", 1, ["hello"], True,
    )  # fmt: skip
    services.listing_reject(
        submission=component.listing.latest_submission(), actor=vera, reason="Tell what it returns."
    )
    status = client.get(f"{API}/marketplace/status/{component.pk}/").json()
    assert status["state"] == "rejected"
    assert status["latest_submission"]["reason"] == "Tell what it returns."
    assert status["public_version"] is None


def test_submitting_needs_edit_and_a_known_component(alice, project, viewer, charlie):
    component = make_greeter(project=project, actor=alice)
    body = {"component": component.pk, "description": "Says hello."}
    assert signed_in(viewer).post(f"{API}/marketplace/submissions/", body, format="json").status_code == 403
    response = signed_in(charlie).post(f"{API}/marketplace/submissions/", body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"component": ["unknown component"]}
    assert anonymous().post(f"{API}/marketplace/submissions/", body, format="json").status_code == 401
    assert signed_in(alice).post(f"{API}/marketplace/submissions/", {"component": component.pk}).status_code == 400


def test_status_of_a_component_is_for_its_members(alice, project, charlie):
    component = make_greeter(project=project, actor=alice)
    assert signed_in(charlie).get(f"{API}/marketplace/status/{component.pk}/").status_code == 404
    assert signed_in(alice).get(f"{API}/marketplace/status/{component.pk}/").json()["state"] == "private"


def test_fork_into_a_project_the_user_edits(listing, charlie, project):
    mine = make_project(owner=charlie, name="Charlie's")
    client = signed_in(charlie)
    response = client.post(f"{API}/marketplace/components/{listing.pk}/fork/", {"project": mine.pk}, format="json")
    assert response.status_code == 201
    forked = response.json()
    assert (forked["project"], forked["name"], forked["latest_version"]) == (mine.pk, "Greeter", 1)
    again = client.post(f"{API}/marketplace/components/{listing.pk}/fork/", {"project": mine.pk}, format="json")
    assert (again.status_code, again.json()["id"]) == (200, forked["id"])
    # Not into somebody else's project, and not signed out.
    refused = client.post(f"{API}/marketplace/components/{listing.pk}/fork/", {"project": project.pk}, format="json")
    assert refused.status_code == 400
    assert refused.json()["errors"] == {"project": ["unknown project"]}
    anonymous_fork = anonymous().post(f"{API}/marketplace/components/{listing.pk}/fork/", {"project": mine.pk})
    assert anonymous_fork.status_code == 401


def test_fork_refuses_a_viewer_of_the_target_and_a_key_of_another_project(listing, alice, viewer, charlie):
    target = make_project(owner=charlie, name="Target")
    from accounts.models import Membership, Permission

    Membership.objects.create(project=target, user=viewer, permission=Permission.VIEW)
    url = f"{API}/marketplace/components/{listing.pk}/fork/"
    assert signed_in(viewer).post(url, {"project": target.pk}, format="json").status_code == 403
    other = make_project(owner=charlie, name="Other")
    _key, raw = make_key(project=other, actor=charlie)
    assert with_secret_key(raw).post(url, {"project": target.pk}, format="json").status_code == 400
    assert not Fork.objects.exists()


def test_update_available_then_update_on_request(listing, alice, charlie, project, vera):
    mine = make_project(owner=charlie, name="Charlie's")
    component, _ = services.component_fork(listing=listing, project=mine, actor=charlie)
    client = signed_in(charlie)
    assert client.get(f"{API}/marketplace/status/{component.pk}/").json()["fork"]["update_available"] is False
    original = listing.component
    component_services.component_update(component=original, actor=alice, code=CODE_V2)
    component_services.component_publish(component=original, actor=alice)
    services.listing_approve(submission=submit(original, alice), actor=vera)

    fork = client.get(f"{API}/marketplace/status/{component.pk}/").json()["fork"]
    assert (fork["update_available"], fork["version"], fork["latest_version"]) == (True, 1, 2)
    assert client.get(f"{API}/components/{component.pk}/").json()["code"] != CODE_V2
    assert signed_in(alice).post(f"{API}/marketplace/status/{component.pk}/update/").status_code == 404
    updated = client.post(f"{API}/marketplace/status/{component.pk}/update/")
    assert updated.status_code == 200
    assert (updated.json()["code"], updated.json()["latest_version"]) == (CODE_V2, 2)
    assert client.post(f"{API}/marketplace/status/{component.pk}/update/").status_code == 400


def test_every_marketplace_route_is_in_the_schema_with_a_summary(client):
    schema = client.get("/api/schema/?format=json").json()
    marketplace = {path: ops for path, ops in schema["paths"].items() if path.startswith("/api/v1/marketplace/")}
    assert {
        "/api/v1/marketplace/components/",
        "/api/v1/marketplace/components/{id}/",
        "/api/v1/marketplace/components/{id}/fork/",
        "/api/v1/marketplace/collections/",
        "/api/v1/marketplace/submissions/",
        "/api/v1/marketplace/submissions/{id}/",
        "/api/v1/marketplace/submissions/{id}/approve/",
        "/api/v1/marketplace/submissions/{id}/reject/",
        "/api/v1/marketplace/status/{id}/",
        "/api/v1/marketplace/status/{id}/update/",
        "/api/v1/marketplace/status/{id}/withdraw/",
    } <= set(marketplace)
    for path, operations in marketplace.items():
        for method, operation in operations.items():
            assert operation.get("summary"), f"{method} {path}"


def test_withdraw_through_the_api(listing, alice, charlie):
    component = listing.component
    assert signed_in(charlie).post(f"{API}/marketplace/status/{component.pk}/withdraw/").status_code == 404
    answer = signed_in(alice).post(f"{API}/marketplace/status/{component.pk}/withdraw/")
    assert (answer.status_code, answer.json()["state"], answer.json()["public_version"]) == (200, "private", None)
    assert anonymous().get(f"{API}/marketplace/components/{listing.pk}/").status_code == 404
    assert signed_in(alice).post(f"{API}/marketplace/status/{component.pk}/withdraw/").status_code == 400


def test_the_public_lists_cost_the_same_queries_for_one_or_many(alice, project, vera):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    listed(make_greeter(project=project, actor=alice, name="First"), alice, vera)

    def cost(url: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert anonymous().get(url).status_code == 200
        return len(queries)

    one = (cost(f"{API}/marketplace/components/"), cost("/marketplace/"), cost("/marketplace/?q=hello"))
    for n in range(3):
        listed(make_greeter(project=project, actor=alice, name=f"More {n}"), alice, vera)
    many = (cost(f"{API}/marketplace/components/"), cost("/marketplace/"), cost("/marketplace/?q=hello"))
    assert many == one
