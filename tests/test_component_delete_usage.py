"""Deleting a component names the workflows that use it (issue 15): the latest published version of a
workflow blocks the deletion (its runs would fail), drafts and older versions are named as a warning."""

from __future__ import annotations

import pytest
from django.urls import reverse

from components.models import Component
from tests.apiclient import API
from tests.factories import make_component, make_workflow
from workflows import services as workflow_services

pytestmark = pytest.mark.django_db

TEXT = {"type": "text"}


@pytest.fixture
def echo(alice, project):  # type: ignore[no-untyped-def]
    return make_component(project=project, actor=alice, name="Echo", inputs=[{"name": "text", **TEXT}])


@pytest.fixture
def other(alice, project):  # type: ignore[no-untyped-def]
    return make_component(project=project, actor=alice, name="Other")


def step(component: Component, step_id: str = "echo") -> dict[str, object]:
    return {"id": step_id, "component": component.pk, "inputs": {"text": "hi"}}


def test_the_page_names_a_published_workflow_and_refuses(client, alice, bob, project, echo):  # type: ignore[no-untyped-def]
    workflow = make_workflow(project=project, actor=alice, name="Nightly sync", steps=[step(echo)])
    client.force_login(bob)
    page = client.get(reverse("components_delete", args=[echo.pk])).content.decode()
    assert 'data-testid="component-in-use"' in page
    assert f'<a href="{reverse("workflows_editor", args=[workflow.pk])}">Nightly sync</a>' in page
    assert "published version 1, the one that runs and the draft <strong>(blocks deletion)</strong>" in page
    assert "disabled" in page.split("Delete this component")[0].rsplit("<button", 1)[1]
    answer = client.post(reverse("components_delete", args=[echo.pk]), follow=True)
    assert "“Echo” was not deleted: it is used by “Nightly sync” (published version 1" in answer.content.decode()
    assert Component.objects.filter(pk=echo.pk).exists()


def test_a_draft_only_use_is_named_and_the_deletion_goes_ahead(client, alice, bob, project, echo, other):  # type: ignore[no-untyped-def]
    workflow = make_workflow(project=project, actor=alice, name="Sketch", steps=[step(other)])
    workflow_services.workflow_update(workflow=workflow, actor=alice, definition={"steps": [step(echo)]})
    client.force_login(bob)
    page = client.get(reverse("components_delete", args=[echo.pk])).content.decode()
    assert "Sketch</a>: the draft (it will show a problem until the step is replaced)" in page
    assert 'data-testid="component-in-use"' not in page
    other_page = client.get(reverse("components_delete", args=[other.pk])).content.decode()
    assert "Sketch</a>: published version 1, the one that runs <strong>(blocks deletion)</strong>" in other_page
    client.post(reverse("components_delete", args=[echo.pk]))
    assert not Component.objects.filter(pk=echo.pk).exists()
    workflow.refresh_from_db()
    workflow_services.workflow_revalidate(workflow=workflow)
    assert [p["message"] for p in workflow.problems] == [f"no component {echo.pk} in this project"]


def test_an_unused_component_says_so(client, bob, echo):  # type: ignore[no-untyped-def]
    client.force_login(bob)
    page = client.get(reverse("components_delete", args=[echo.pk])).content.decode()
    assert "No workflow of Alice&#x27;s project uses it." in page


def test_the_api_refuses_with_409_and_the_list(client, alice, bob, project, echo, other):  # type: ignore[no-untyped-def]
    used = make_workflow(project=project, actor=alice, name="Runs it", steps=[step(echo)])
    older = make_workflow(project=project, actor=alice, name="Used to", steps=[step(echo)])
    workflow_services.workflow_update(workflow=older, actor=alice, definition={"steps": [step(other, "other")]})
    workflow_services.workflow_publish(workflow=older, actor=alice)
    client.force_login(bob)
    listed = client.get(f"{API}/components/{echo.pk}/uses/")
    assert listed.status_code == 200
    assert [(u["name"], u["where"], u["blocking"]) for u in listed.json()] == [
        ("Runs it", "published version 1, the one that runs and the draft", True),
        ("Used to", "older version 1", False),
    ]
    refused = client.delete(f"{API}/components/{echo.pk}/")
    assert refused.status_code == 409
    body = refused.json()
    assert body["code"] == "component_in_use"
    assert body["message"].startswith("“Echo” cannot be deleted: it is used by “Runs it” (published version 1")
    assert [(u["id"], u["url"]) for u in body["uses"]] == [(used.pk, reverse("workflows_editor", args=[used.pk]))]
    assert Component.objects.filter(pk=echo.pk).exists()
    workflow_services.workflow_delete(workflow=used, actor=alice)
    assert client.delete(f"{API}/components/{echo.pk}/").status_code == 204


def test_outsiders_and_viewers_see_no_uses(client, alice, project, viewer, charlie, echo):  # type: ignore[no-untyped-def]
    make_workflow(project=project, actor=alice, name="Secret plan", steps=[step(echo)])
    client.force_login(charlie)
    assert client.get(f"{API}/components/{echo.pk}/uses/").status_code == 404
    assert client.get(reverse("components_delete", args=[echo.pk])).status_code == 404
    client.force_login(viewer)
    assert client.get(reverse("components_delete", args=[echo.pk])).status_code == 403
    assert client.delete(f"{API}/components/{echo.pk}/").status_code == 403
    assert client.get(f"{API}/components/{echo.pk}/uses/").status_code == 200  # a viewer reads the project
