"""Official connectors: their specs, installing one in a project (who may), the editor's catalog, and
running an installed connector as a workflow step against a stand-in for the third party."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from accounts.models import ApiKeyKind, Membership
from components import connectors, credentials
from components.http_component import validate_http_spec
from components.models import Component
from components.types import validate_interface
from tests import fake_api
from tests.apiclient import API, anonymous, make_key, signed_in, with_secret_key
from tests.factories import make_project, make_user, make_workflow
from workflows import engine, runs
from workflows.views.editor_data import catalog

pytestmark = pytest.mark.django_db


@pytest.fixture
def third_party(settings) -> Iterator[fake_api.FakeApi]:  # type: ignore[no-untyped-def]
    with fake_api.serve() as server:
        settings.OUTBOUND_ALLOW = [server.destination]
        yield server


def install(client: Any, name: str, project: int) -> Any:
    return client.post(f"{API}/connectors/{name}/install/", {"project": project}, format="json")


@pytest.mark.parametrize("connector", connectors.catalog(), ids=lambda c: c.name)
def test_every_connector_is_a_valid_component(connector: connectors.Connector) -> None:
    inputs = validate_interface(connector.inputs, field="inputs")
    outputs = validate_interface(connector.outputs, field="outputs")
    if connector.kind == "code":
        compile(connector.code, connector.name, "exec")  # parses; it runs in the replay tests
    else:
        validate_http_spec(connector.http, inputs=inputs, outputs=outputs)
    assert connectors.get(connector.name) is connector


def test_the_catalog_is_for_signed_in_people_and_keys(alice, project) -> None:  # type: ignore[no-untyped-def]
    assert anonymous().get(f"{API}/connectors/").status_code == 401
    listed = signed_in(alice).get(f"{API}/connectors/")
    assert listed.status_code == 200
    assert {entry["connector"] for entry in listed.json()} == {c.name for c in connectors.catalog()}
    _key, secret = make_key(project=project, actor=alice)
    one = with_secret_key(secret).get(f"{API}/connectors/slack-message/")
    assert (one.status_code, one.json()["name"]) == (200, "Slack: send a message")
    assert signed_in(alice).get(f"{API}/connectors/no-such-thing/").status_code == 404


def test_installing_makes_one_published_copy_for_editors_only(alice, bob, charlie, project) -> None:  # type: ignore[no-untyped-def]
    first = install(signed_in(bob), "github-issue", project.pk)
    assert first.status_code == 201, first.json()
    body = first.json()
    assert (body["project"], body["connector"], body["kind"], body["latest_version"]) == (
        project.pk,
        "github-issue",
        "http",
        1,
    )
    assert body["http"]["url"] == "https://api.github.com/repos/{{ inputs.repository }}/issues"
    again = install(signed_in(alice), "github-issue", project.pk)
    assert (again.status_code, again.json()["id"]) == (200, body["id"])  # the project's copy, not a second one
    assert Component.objects.filter(project=project, connector="github-issue").count() == 1
    # A viewer may not add components; an outsider's project id is unknown to them; keys as for components.
    vera = make_user(email="vera@example.com")
    Membership.objects.create(project=project, user=vera, permission="view")
    assert install(signed_in(vera), "slack-message", project.pk).status_code == 403
    refused = install(signed_in(charlie), "slack-message", project.pk)
    assert (refused.status_code, refused.json()["errors"]) == (400, {"project": ["unknown project"]})
    _key, publishable = make_key(project=project, actor=alice, kind=ApiKeyKind.PUBLISHABLE)
    assert install(with_secret_key(publishable), "slack-message", project.pk).status_code == 401
    elsewhere = make_project(owner=alice, name="Elsewhere")
    _key, secret = make_key(project=elsewhere, actor=alice)
    assert install(with_secret_key(secret), "slack-message", project.pk).status_code == 400
    assert install(signed_in(alice), "no-such-thing", project.pk).status_code == 404
    assert install(signed_in(alice), "slack-message", "x").status_code == 400
    assert not Component.objects.filter(connector="slack-message").exists()


def test_a_test_base_url_replaces_the_providers_when_installing(alice, project, settings) -> None:  # type: ignore[no-untyped-def]
    settings.CONNECTOR_BASE_URLS = {"https://api.github.com": "http://127.0.0.1:9/"}
    component, _ = connectors_install(alice, project, "github-issue")
    assert component.http["url"] == "http://127.0.0.1:9/repos/{{ inputs.repository }}/issues"
    assert component.versions.get().http["url"] == component.http["url"]
    shipped = connectors.get("github-issue")
    assert shipped is not None
    assert shipped.http["url"].startswith("https://api.github.com/")  # the catalog's is unchanged


def test_a_code_connector_installs_as_a_published_code_component(alice, project, settings) -> None:  # type: ignore[no-untyped-def]
    settings.CONNECTOR_BASE_URLS = {"https://api.github.com": "http://127.0.0.1:9"}  # nothing to rewrite in code
    shipped = connectors.get("utility-uuid")
    assert shipped is not None
    component, created = connectors_install(alice, project, "utility-uuid")
    assert created
    version = component.versions.get()
    assert (component.kind, version.kind, component.http, component.icon) == ("code", "code", {}, shipped.icon)
    assert version.code == shipped.code
    assert version.inputs == validate_interface(shipped.inputs, field="inputs")


def test_every_connector_names_its_provider_and_icon() -> None:
    for connector in connectors.catalog():
        assert connector.provider, connector.name
        assert connector.icon, connector.name
        assert connector.kind in ("http", "code"), connector.name
        if connector.kind == "http" and connector.base_url:
            assert connector.http["url"].startswith(connector.base_url), connector.name


def test_the_editor_offers_connectors_until_installed(alice, project) -> None:  # type: ignore[no-untyped-def]
    workflow = make_workflow(project=project, actor=alice, steps=[], publish=False)
    offered = {entry["connector"]: entry for entry in catalog(workflow) if entry["connector"]}
    assert set(offered) == {c.name for c in connectors.catalog()}
    assert (offered["slack-message"]["id"], offered["slack-message"]["latest"]) == (None, None)
    component, created = connectors_install(alice, project, "slack-message")
    assert created
    entries = [entry for entry in catalog(workflow) if entry["connector"] == "slack-message"]
    assert [(entry["id"], entry["latest"]) for entry in entries] == [(component.pk, 1)]


def connectors_install(actor: Any, project: Any, name: str) -> tuple[Component, bool]:
    from components import services

    return services.connector_install(project=project, actor=actor, name=name)


def test_an_installed_connector_runs_as_a_step_with_its_credential(alice, project, third_party) -> None:  # type: ignore[no-untyped-def]
    hook = third_party.url("/echo")  # stands in for https://hooks.slack.com/services/…
    credentials.credential_set(project=project, actor=alice, name="SLACK_HOOK", value=hook)
    slack, _ = connectors_install(alice, project, "slack-message")
    post_json, _ = connectors_install(alice, project, "post-json")
    workflow = make_workflow(
        project=project,
        actor=alice,
        steps=[
            {
                "id": "notify",
                "component": slack.pk,
                "inputs": {"webhook_url": "{{ secrets.SLACK_HOOK }}", "text": "deploy {{ input.version }} done"},
            },
            {"id": "forward", "component": post_json.pk, "inputs": {"url": hook, "payload": "{{ input }}"}},
        ],
        inputs=[{"name": "version", "type": "text"}],
        outputs=[
            {"name": "status", "value": "{{ steps.notify.output.status }}"},
            {"name": "echoed", "value": "{{ steps.forward.output.response.json }}"},
        ],
    )
    execution = runs.execution_start(workflow=workflow, inputs={"version": "1.2.3"}, user=alice)
    following = engine.advance(execution.pk, claim=True)
    while following.claimed is not None or following.others:
        for pk in following.others:
            engine.run_step(pk)
        following = engine.run_claimed(following.claimed) if following.claimed else engine.Next()
    execution.refresh_from_db()
    assert execution.status == "succeeded", execution.error
    assert execution.outputs == {"status": 200, "echoed": {"version": "1.2.3"}}
    sent = {r["headers"]["Idempotency-Key"]: json_of(r) for r in third_party.requests if r["path"] == "/echo"}
    assert sent == {
        f"wf{execution.pk}-notify-0": {"text": "deploy 1.2.3 done"},
        f"wf{execution.pk}-forward-0": {"version": "1.2.3"},  # the object itself, not its text
    }
    notify = execution.step_runs.get(step="notify")
    assert notify.inputs["webhook_url"] == "{{ secrets.SLACK_HOOK }}"  # the credential's name, not the URL
    assert hook not in " ".join(notify.logs)


def json_of(record: dict[str, Any]) -> Any:
    import json

    return json.loads(record["body"])
