"""Every component, execution and credential endpoint of the REST API, for each persona: the owner
and an editor may do everything, a viewer reads (and runs published versions), an outsider gets 404
as if nothing were there. A refused request changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from components import credentials, services
from components.models import Component, ComponentVersion, Credential, Execution
from tests.apiclient import (
    API,
    EDITOR,
    OUTSIDER,
    OWNER,
    PERSONAS,
    VIEWER,
    expected,
    make_key,
    signed_in,
    with_secret_key,
)
from tests.factories import make_project

pytestmark = pytest.mark.django_db

ENDPOINTS = [
    # (method, path with {c} component, {e} execution and {p} project ids, body, expected statuses)
    ("get", "components/{c}/", None, expected(edit=200, view=200)),
    ("patch", "components/{c}/", {"description": "changed"}, expected(edit=200, view=403)),
    ("delete", "components/{c}/", None, expected(edit=204, view=403)),
    ("post", "components/{c}/publish/", {"changelog": "again"}, expected(edit=201, view=403)),
    ("post", "components/{c}/duplicate/", {}, expected(edit=201, view=403)),
    ("get", "components/{c}/versions/", None, expected(edit=200, view=200)),
    ("post", "components/{c}/run?async=1", {"a": 1}, expected(edit=202, view=202)),
    ("post", "components/{c}/run?async=1&version=draft", {"a": 1}, expected(edit=202, view=403)),
    ("get", "executions/{e}/", None, expected(edit=200, view=200)),
    ("get", "projects/{p}/credentials/", None, expected(edit=200, view=200)),
    ("post", "projects/{p}/credentials/", {"name": "NEW_ONE", "value": "v"}, expected(edit=201, view=403)),
    ("patch", "projects/{p}/credentials/API_TOKEN/", {"allowed_hosts": ["a.example"]}, expected(edit=200, view=403)),
    ("patch", "projects/{p}/credentials/API_TOKEN/", {"value": "replaced"}, expected(edit=200, view=403)),
    ("delete", "projects/{p}/credentials/API_TOKEN/", None, expected(edit=204, view=403)),
]


@pytest.fixture
def component(alice, project) -> Component:  # type: ignore[no-untyped-def]
    code = "def run(inputs, ctx):\n    return {'a': inputs['a']}\n"
    component = services.component_create(project=project, actor=alice, name="Echo", code=code)
    services.component_publish(component=component, actor=alice)
    credentials.credential_set(project=project, actor=alice, name="API_TOKEN", value="tok-original")
    return component


def api(client: Any, method: str, path: str, body: Any) -> Any:
    return getattr(client, method)(f"{API}/{path}", body, format="json")


def snapshot(component: Component) -> tuple[Any, ...]:
    token = Credential.objects.get(project=component.project, name="API_TOKEN")
    return (
        Component.objects.count(),
        ComponentVersion.objects.count(),
        Execution.objects.count(),
        Credential.objects.count(),
        Component.objects.get(pk=component.pk).description,
        token.allowed_hosts,
        credentials.credential_values(project=component.project)["API_TOKEN"],
    )


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(("method", "path", "body", "statuses"), ENDPOINTS, ids=[f"{m} {p}" for m, p, *_ in ENDPOINTS])
def test_every_endpoint_answers_each_persona(
    alice, bob, charlie, viewer, component, persona, method, path, body, statuses
):  # type: ignore[no-untyped-def]
    execution = Execution.objects.create(project=component.project, component=component, inputs={"a": "kept"})
    client = signed_in({OWNER: alice, EDITOR: bob, VIEWER: viewer, OUTSIDER: charlie}[persona])
    before = snapshot(component)
    response = api(client, method, path.format(c=component.pk, e=execution.pk, p=component.project_id), body)
    assert response.status_code == statuses[persona], response.content
    if response.status_code in (403, 404):
        assert snapshot(component) == before  # refused: nothing changed
        assert "tok-original" not in response.content.decode()
    if persona == OUTSIDER and "/run" in path:
        assert response.json()["code"] == 104  # run endpoints speak in error codes


def test_lists_show_only_what_the_caller_may_read(alice, charlie, component) -> None:  # type: ignore[no-untyped-def]
    mine = Execution.objects.create(project=component.project, component=component, inputs={})
    theirs_project = make_project(owner=charlie, name="Charlie's")
    theirs = services.component_create(project=theirs_project, actor=charlie, name="Theirs")
    other = Execution.objects.create(project=theirs_project, component=theirs, inputs={})

    client = signed_in(charlie)
    assert [e["id"] for e in client.get(f"{API}/executions/").json()["results"]] == [other.pk]
    assert [c["id"] for c in client.get(f"{API}/components/").json()["results"]] == [theirs.pk]

    # A secret key of another of Alice's projects reads that project only, though Alice reads both.
    elsewhere = make_project(owner=alice, name="Elsewhere")
    _key, raw = make_key(project=elsewhere, actor=alice)
    keyed = with_secret_key(raw)
    assert keyed.get(f"{API}/executions/").json()["results"] == []
    assert keyed.get(f"{API}/executions/{mine.pk}/").status_code == 404
    assert keyed.get(f"{API}/components/{component.pk}/versions/").status_code == 404
    assert keyed.post(f"{API}/components/{component.pk}/duplicate/", {}, format="json").status_code == 404
    assert keyed.get(f"{API}/projects/{component.project_id}/credentials/").status_code == 404
    refused = keyed.patch(
        f"{API}/projects/{component.project_id}/credentials/API_TOKEN/", {"value": "stolen"}, format="json"
    )
    assert refused.status_code == 404
    assert credentials.credential_values(project=component.project)["API_TOKEN"] == "tok-original"
