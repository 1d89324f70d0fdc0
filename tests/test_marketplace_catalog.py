"""The workflow editor's catalog offers the marketplace beside the project's components and the
official connectors, and adding a marketplace component forks it into the project (the URL the
page uses), as adding a connector installs it."""

from __future__ import annotations

import json

import pytest

from components.marketplace import services
from components.marketplace.models import Fork
from tests.apiclient import signed_in
from tests.factories import make_project, make_workflow
from tests.marketplace_setup import listed, make_greeter, make_validator

pytestmark = pytest.mark.django_db


def editor_config(client, workflow):  # type: ignore[no-untyped-def]
    response = client.get(f"/workflows/{workflow.pk}/")
    assert response.status_code == 200
    return json.loads(json.dumps(response.context["editor_config"]))  # as the page's JSON carries it


def test_the_catalog_searches_connectors_and_the_marketplace_and_forks_on_add(alice, charlie, project):
    vera = make_validator()
    listing = listed(make_greeter(project=project, actor=alice), alice, vera)
    mine = make_project(owner=charlie, name="Charlie's")
    workflow = make_workflow(project=mine, actor=charlie, steps=[], publish=False)
    client = signed_in(charlie)
    config = editor_config(client, workflow)
    entries = {(entry.get("listing"), entry.get("connector") or None): entry for entry in config["catalog"]}
    offered = entries[(listing.pk, None)]
    assert (offered["id"], offered["name"], offered["publisher"]) == (None, "Greeter", project.name)
    assert offered["inputs"] == [{"name": "name", "type": "text"}]
    assert any(entry.get("connector") for entry in config["catalog"])  # the official ones too

    url = config["forkUrl"].replace("__id__", str(listing.pk))
    answer = client.post(url, {"project": config["projectId"]}, format="json")
    assert answer.status_code == 201
    fork = Fork.objects.get(project=mine)
    assert answer.json()["id"] == fork.component_id
    # Forked once: the catalog now lists the project's copy, and no longer the listing.
    config = editor_config(client, workflow)
    assert not [entry for entry in config["catalog"] if entry.get("listing") == listing.pk]
    copy = next(entry for entry in config["catalog"] if entry["id"] == fork.component_id)
    assert copy["latest"] == 1


def test_the_catalog_leaves_out_the_projects_own_listings(alice, project):
    vera = make_validator()
    listed(make_greeter(project=project, actor=alice), alice, vera)
    workflow = make_workflow(project=project, actor=alice, steps=[], publish=False)
    config = editor_config(signed_in(alice), workflow)
    assert not [entry for entry in config["catalog"] if entry.get("listing")]
    assert services.is_validator(vera)
