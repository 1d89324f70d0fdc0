"""Importing an exported workflow from the workflow list page."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.factories import make_component, make_project, make_workflow
from workflows import transfer
from workflows.models import Workflow

pytestmark = pytest.mark.django_db

ECHO = "def run(inputs, ctx):\n    return {'value': inputs['value']}\n"


@pytest.fixture
def document(alice, project):  # type: ignore[no-untyped-def]
    echo = make_component(
        project=project,
        actor=alice,
        name="Echo",
        code=ECHO,
        inputs=[{"name": "value", "type": "json"}],
        outputs=[{"name": "value", "type": "json"}],
    )
    workflow = make_workflow(
        project=project,
        actor=alice,
        name="Exported",
        steps=[{"id": "echo", "component": echo.pk, "inputs": {"value": 1}}],
    )
    return transfer.workflow_export(workflow=workflow)


def upload(content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile("workflow.json", content, content_type="application/json")


def test_an_editor_imports_a_workflow_with_its_components_into_another_project(client, bob, document) -> None:  # type: ignore[no-untyped-def]
    target = make_project(owner=bob, name="Bob's")
    client.force_login(bob)
    response = client.post(
        reverse("workflows_import"), {"project": target.pk, "document": upload(json.dumps(document).encode())}
    )
    imported = Workflow.objects.get(project=target)
    assert response.status_code == 302
    assert response["Location"] == reverse("workflows_editor", args=[imported.pk])
    assert imported.name == "Exported"
    assert imported.problems == []
    assert imported.definition["steps"][0]["component"] != document["workflow"]["definition"]["steps"][0]["component"]


def test_a_bad_file_is_refused_and_nothing_is_written(client, bob, document, project) -> None:  # type: ignore[no-untyped-def]
    client.force_login(bob)
    before = Workflow.objects.count()
    not_json = client.post(reverse("workflows_import"), {"project": project.pk, "document": upload(b"{nope")})
    assert not_json.status_code == 400
    assert "The file is not JSON." in not_json.content.decode()
    document["components"][0]["embedded"]["code"] = "def run(:"
    broken = client.post(
        reverse("workflows_import"), {"project": project.pk, "document": upload(json.dumps(document).encode())}
    )
    assert broken.status_code == 400
    assert "components[0].embedded.code: line 1" in broken.content.decode()
    assert Workflow.objects.count() == before


def test_an_outsider_cannot_import_into_a_project_of_others(client, charlie, document, project) -> None:  # type: ignore[no-untyped-def]
    client.force_login(charlie)
    response = client.post(
        reverse("workflows_import"), {"project": project.pk, "document": upload(json.dumps(document).encode())}
    )
    assert response.status_code == 400  # not one of the projects offered to them
    assert not Workflow.objects.filter(project=project).exclude(name="Exported").exists()
    assert Workflow.objects.filter(project=project).count() == 1
