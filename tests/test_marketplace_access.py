"""Outsiders and editors who are not validators are refused on every validation endpoint: the
REST API, the superadmin queue and the cloud functions, one test per endpoint; validators pass."""

from __future__ import annotations

import pytest

from components.marketplace.models import ListingState, Submission
from tests.apiclient import API, anonymous, make_key, signed_in, with_secret_key
from tests.marketplace_setup import make_greeter, make_validator, submit

pytestmark = pytest.mark.django_db
REFUSED = ["charlie", "bob"]  # an outsider, and the author's editor who holds no validation role


@pytest.fixture
def submission(alice, bob, project) -> Submission:  # type: ignore[no-untyped-def]
    return submit(make_greeter(project=project, actor=bob), bob)


@pytest.fixture
def vera(alice):  # type: ignore[no-untyped-def]
    return make_validator()


def still_waiting(submission: Submission) -> bool:
    submission.refresh_from_db()
    return submission.state == ListingState.SUBMITTED


# --- REST API ----------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", REFUSED)
def test_api_queue_list_refuses(request, persona, submission):
    response = signed_in(request.getfixturevalue(persona)).get(f"{API}/marketplace/submissions/")
    assert response.status_code == 403
    assert anonymous().get(f"{API}/marketplace/submissions/").status_code == 401


@pytest.mark.parametrize("persona", REFUSED)
def test_api_submission_detail_refuses(request, persona, submission):
    response = signed_in(request.getfixturevalue(persona)).get(f"{API}/marketplace/submissions/{submission.pk}/")
    assert response.status_code == 403
    assert set(response.json()) == {"code", "message"}  # the error alone, never the code


@pytest.mark.parametrize("persona", REFUSED)
def test_api_approve_refuses(request, persona, submission):
    client = signed_in(request.getfixturevalue(persona))
    response = client.post(f"{API}/marketplace/submissions/{submission.pk}/approve/")
    assert response.status_code == 403
    assert still_waiting(submission)


@pytest.mark.parametrize("persona", REFUSED)
def test_api_reject_refuses(request, persona, submission):
    client = signed_in(request.getfixturevalue(persona))
    response = client.post(f"{API}/marketplace/submissions/{submission.pk}/reject/", {"reason": "no"}, format="json")
    assert response.status_code == 403
    assert still_waiting(submission)


def test_api_refuses_a_validators_secret_key(alice, vera, submission):
    from accounts.models import Membership
    from tests.factories import make_project

    own = make_project(owner=vera, name="Vera's")
    assert Membership.objects.filter(project=own, user=vera).exists()
    _key, raw = make_key(project=own, actor=vera)
    client = with_secret_key(raw)
    assert client.get(f"{API}/marketplace/submissions/").status_code == 403
    assert client.post(f"{API}/marketplace/submissions/{submission.pk}/approve/").status_code == 403
    assert still_waiting(submission)


def test_api_validators_read_approve_and_reject(vera, bob, project, submission):
    client = signed_in(vera)
    queue = client.get(f"{API}/marketplace/submissions/").json()
    assert [s["id"] for s in queue] == [submission.pk]
    detail = client.get(f"{API}/marketplace/submissions/{submission.pk}/").json()
    assert detail["code"].startswith("def run")
    response = client.post(f"{API}/marketplace/submissions/{submission.pk}/reject/", {}, format="json")
    assert response.status_code == 400
    assert "reason" in response.json()["errors"]
    response = client.post(f"{API}/marketplace/submissions/{submission.pk}/reject/", {"reason": "Add a test."})
    assert response.json() == {"listing": submission.listing_id, "state": "rejected"}
    second = submit(make_greeter(project=project, actor=bob, name="Other"), bob)
    assert client.post(f"{API}/marketplace/submissions/{second.pk}/approve/").json()["state"] == "approved"
    assert client.post(f"{API}/marketplace/submissions/{second.pk}/approve/").status_code == 400  # decided


# --- superadmin --------------------------------------------------------------------------------

ADMIN = "/superadmin/components/submission/"


def admin_client(user):  # type: ignore[no-untyped-def]
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


# Someone who is not staff is sent to the admin's sign-in; staff without the validation role is refused.
REFUSALS = [("charlie", 302), ("staff_editor", 403)]


def assert_refused(response, status):  # type: ignore[no-untyped-def]
    assert response.status_code == status
    if status == 302:
        assert response["Location"].startswith("/superadmin/login/")


@pytest.fixture
def staff_editor(bob):  # type: ignore[no-untyped-def]
    """Bob with staff status but no validation role: the admin site lets him in, the queue does not."""
    bob.is_staff = True
    bob.save(update_fields=["is_staff"])
    return bob


@pytest.mark.parametrize(("persona", "status"), REFUSALS)
def test_admin_queue_list_refuses(request, persona, status, submission):
    response = admin_client(request.getfixturevalue(persona)).get(ADMIN)
    assert_refused(response, status)
    assert submission.description.encode() not in response.content


@pytest.mark.parametrize(("persona", "status"), REFUSALS)
def test_admin_submission_page_refuses(request, persona, status, submission):
    response = admin_client(request.getfixturevalue(persona)).get(f"{ADMIN}{submission.pk}/change/")
    assert_refused(response, status)
    assert b"def run" not in response.content


@pytest.mark.parametrize(("persona", "status"), REFUSALS)
def test_admin_approve_refuses(request, persona, status, submission):
    response = admin_client(request.getfixturevalue(persona)).post(f"{ADMIN}{submission.pk}/approve/")
    assert_refused(response, status)
    assert still_waiting(submission)


@pytest.mark.parametrize(("persona", "status"), REFUSALS)
def test_admin_reject_refuses(request, persona, status, submission):
    response = admin_client(request.getfixturevalue(persona)).post(f"{ADMIN}{submission.pk}/reject/", {"reason": "x"})
    assert_refused(response, status)
    assert still_waiting(submission)


@pytest.mark.parametrize(("persona", "status"), REFUSALS)
def test_admin_approve_action_refuses(request, persona, status, submission):
    response = admin_client(request.getfixturevalue(persona)).post(
        ADMIN, {"action": "approve_selected", "_selected_action": [submission.pk]}
    )
    assert_refused(response, status)
    assert still_waiting(submission)


def test_admin_validators_read_the_code_then_reject_and_approve(vera, bob, project, submission):
    client = admin_client(vera)
    assert submission.name.encode() in client.get(ADMIN).content
    page = client.get(f"{ADMIN}{submission.pk}/change/").content.decode()
    assert "def run(inputs, ctx)" in page
    assert 'value="Approve"' in page
    assert 'value="Reject"' in page
    assert "Run in the sandbox" in page
    assert client.post(f"{ADMIN}{submission.pk}/reject/", {"reason": ""}).status_code == 302
    assert still_waiting(submission)  # a reason is required
    client.post(f"{ADMIN}{submission.pk}/reject/", {"reason": "Say hello in French too."})
    submission.refresh_from_db()
    assert (submission.state, submission.reason) == ("rejected", "Say hello in French too.")
    again = submit(submission.listing.component, bob)
    assert client.post(f"{ADMIN}{again.pk}/approve/").status_code == 302
    again.refresh_from_db()
    assert again.state == "approved"


# --- cloud functions ---------------------------------------------------------------------------


def cloud(client, name: str, params: dict[str, object]):  # type: ignore[no-untyped-def]
    return client.post(f"{API}/cloud/{name}", params, format="json")


@pytest.mark.parametrize("persona", REFUSED)
def test_cloud_list_submissions_refuses(request, persona, submission):
    response = cloud(signed_in(request.getfixturevalue(persona)), "listMarketplaceSubmissions", {})
    assert response.status_code == 403
    assert cloud(anonymous(), "listMarketplaceSubmissions", {}).status_code == 401


@pytest.mark.parametrize("persona", REFUSED)
def test_cloud_load_submission_refuses(request, persona, submission):
    response = cloud(signed_in(request.getfixturevalue(persona)), "loadMarketplaceSubmission", {"id": submission.pk})
    assert response.status_code == 403
    assert "def run" not in response.content.decode()


@pytest.mark.parametrize("persona", REFUSED)
def test_cloud_approve_refuses(request, persona, submission):
    response = cloud(signed_in(request.getfixturevalue(persona)), "approveMarketplaceListing", {"id": submission.pk})
    assert response.status_code == 403
    assert still_waiting(submission)


@pytest.mark.parametrize("persona", REFUSED)
def test_cloud_reject_refuses(request, persona, submission):
    client = signed_in(request.getfixturevalue(persona))
    response = cloud(client, "rejectMarketplaceListing", {"id": submission.pk, "reason": "no"})
    assert response.status_code == 403
    assert still_waiting(submission)


def test_cloud_validators_review(vera, submission):
    client = signed_in(vera)
    assert [s["id"] for s in cloud(client, "listMarketplaceSubmissions", {}).json()] == [submission.pk]
    assert cloud(client, "loadMarketplaceSubmission", {"id": submission.pk}).json()["code"].startswith("def run")
    answer = cloud(client, "rejectMarketplaceListing", {"id": submission.pk, "reason": "Needs docs."})
    assert answer.json()["state"] == "rejected"
