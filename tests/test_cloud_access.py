"""Who may call the project and component cloud functions, through their HTTP face
(``POST /api/v1/cloud/<name>``, the same checks as the socket): outsiders, viewers, and secret keys of
another project."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import Permission, Project
from components import services
from components.models import Component, Execution
from tests.apiclient import API, make_key, signed_in, with_secret_key
from tests.factories import make_project

pytestmark = pytest.mark.django_db

# (function, parameters, the permission it needs)
CALLS: list[tuple[str, Any, str]] = [
    ("getProject", lambda p, c, e: {"id": p.pk}, Permission.VIEW),
    ("projectMembers", lambda p, c, e: {"project_id": p.pk}, Permission.VIEW),
    ("projectKeys", lambda p, c, e: {"project_id": p.pk}, Permission.EDIT),
    ("createOrUpdateProject", lambda p, c, e: {"id": p.pk, "name": "Taken over"}, Permission.EDIT),
    ("listComponents", lambda p, c, e: {"project_id": p.pk}, Permission.VIEW),
    ("loadComponent", lambda p, c, e: {"id": c.pk}, Permission.VIEW),
    ("listExecutions", lambda p, c, e: {"component_id": c.pk}, Permission.VIEW),
    ("getExecution", lambda p, c, e: {"id": e.pk}, Permission.VIEW),
]


@pytest.fixture
def things(alice, project) -> tuple[Project, Component, Execution]:  # type: ignore[no-untyped-def]
    component = services.component_create(project=project, actor=alice, name="Echo")
    execution = Execution.objects.create(project=project, component=component, inputs={"secret": "kept"})
    return project, component, execution


def post(client: Any, name: str, params: dict[str, Any]) -> Any:
    return client.post(f"{API}/cloud/{name}", params, format="json")


@pytest.mark.parametrize(("name", "params", "needed"), CALLS, ids=[c[0] for c in CALLS])
def test_an_outsider_gets_404_and_nothing_changes(charlie, things, name, params, needed) -> None:  # type: ignore[no-untyped-def]
    response = post(signed_in(charlie), name, params(*things))
    assert response.status_code == 404, response.content
    assert "kept" not in response.content.decode()
    assert Project.objects.get(pk=things[0].pk).name == "Alice's project"


@pytest.mark.parametrize(("name", "params", "needed"), CALLS, ids=[c[0] for c in CALLS])
def test_a_secret_key_of_another_project_gets_404(alice, things, name, params, needed) -> None:  # type: ignore[no-untyped-def]
    elsewhere = make_project(owner=alice, name="Elsewhere")
    _key, raw = make_key(project=elsewhere, actor=alice)
    response = post(with_secret_key(raw), name, params(*things))
    assert response.status_code == 404, response.content
    assert Project.objects.get(pk=things[0].pk).name == "Alice's project"

    _key, own = make_key(project=things[0], actor=alice)
    assert post(with_secret_key(own), name, params(*things)).status_code == 200


@pytest.mark.parametrize(("name", "params", "needed"), CALLS, ids=[c[0] for c in CALLS])
def test_a_viewer_reads_but_does_not_edit(viewer, things, name, params, needed) -> None:  # type: ignore[no-untyped-def]
    response = post(signed_in(viewer), name, params(*things))
    assert response.status_code == (200 if needed == Permission.VIEW else 403), response.content
    assert Project.objects.get(pk=things[0].pk).name == "Alice's project"
