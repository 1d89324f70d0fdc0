"""The superadmin side of the marketplace: the ``marketplace`` role curates collections (and only
they and superusers do), and a validator's "Run in the sandbox" goes through the validation roles'
run permission."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from accounts import services as account_services
from components.marketplace.models import Collection
from tests.apiclient import API, signed_in
from tests.factories import make_component, make_user
from tests.marketplace_setup import listed, make_greeter, make_validator, submit

pytestmark = pytest.mark.django_db
COLLECTIONS = "/superadmin/components/collection/"


def admin_client(user):  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def curator(alice):  # type: ignore[no-untyped-def]
    user = make_user(email="cora@example.com", name="Cora", is_staff=True)
    account_services.user_set_roles(user=user, role_names=["user", "marketplace"])
    return user


def test_the_marketplace_role_curates_collections(curator, alice, project):
    listing = listed(make_greeter(project=project, actor=alice), alice, make_validator())
    client = admin_client(curator)
    assert client.get(COLLECTIONS).status_code == 200
    response = client.post(
        f"{COLLECTIONS}add/",
        {"title": "Staff picks", "slug": "staff-picks", "description": "", "position": 0, "listings": [listing.pk]},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    collection = Collection.objects.get()
    assert list(collection.listings.all()) == [listing]
    assert 'data-testid="collection-staff-picks"' in Client().get("/marketplace/").content.decode()
    client.post(f"{COLLECTIONS}{collection.pk}/delete/", {"post": "yes"})
    assert not Collection.objects.exists()


def test_validators_and_other_staff_cannot_curate(alice):
    vera = make_validator()
    for user in (vera, make_user(email="sam@example.com", is_staff=True)):
        client = admin_client(user)
        assert client.get(COLLECTIONS).status_code == 403
        client.post(f"{COLLECTIONS}add/", {"title": "Mine", "slug": "mine", "position": 0})
    assert not Collection.objects.exists()


def test_a_validator_may_run_the_submitted_version_an_outsider_may_not(alice, bob, charlie, project):
    submission = submit(make_greeter(project=project, actor=bob), bob)
    vera = make_validator()
    run = f"{API}/components/{submission.listing.component_id}/run?version=1&async=1"
    assert signed_in(vera).post(run, {"name": "Ada"}, format="json").status_code == 202
    refused = signed_in(charlie).post(run, {"name": "Ada"}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (404, 104)


def test_the_queue_lists_what_waits_for_a_validator_first(alice, bob, project):
    vera = make_validator()
    decided = listed(make_greeter(project=project, actor=bob, name="Aardvark"), bob, vera).latest_submission()
    waiting = submit(make_greeter(project=project, actor=bob, name="Zebra"), bob)
    page = admin_client(vera).get("/superadmin/components/submission/")
    assert page.status_code == 200
    listed_ids = [submission.pk for submission in page.context["cl"].result_list]
    assert listed_ids == [waiting.pk, decided.pk]  # "submitted" sorts after "approved" by name; waiting comes first


def test_the_sandbox_form_leaves_out_inputs_that_name_credentials(alice, bob, project):
    token = {"name": "token", "type": "secret", "default": "{{ secrets.ACME }}"}
    component = make_component(
        project=project,
        actor=bob,
        name="Whoami",
        code="def run(inputs, ctx):\n    return {}\n",
        inputs=[{"name": "login", "type": "text"}, token],
    )
    submission = submit(component, bob)
    page = admin_client(make_validator()).get(f"/superadmin/components/submission/{submission.pk}/change/")
    assert page.status_code == 200
    # A validator may not choose a credential (105): the form starts from the inputs she may fill.
    assert json.loads(page.context["example_inputs"]) == {"login": ""}
