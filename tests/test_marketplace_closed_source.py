"""A closed-source listing shows only its interface, and a fork of it never shows its code to the
forker — API, cloud functions, pages, syntax check, duplicate, workflow export — while it still
runs in the sandbox. Validators still read it."""

from __future__ import annotations

import pytest

from components.marketplace import services
from components.runs import run_execute, run_start
from tests.apiclient import API, anonymous, signed_in
from tests.factories import make_project, make_workflow
from tests.marketplace_setup import INPUTS, OUTPUTS, make_validator, submit

pytestmark = pytest.mark.django_db
MARKER = "secret_sauce_4217"
CODE = f"def run(inputs, ctx):\n    {MARKER} = 'Hello, '\n    return {{'greeting': {MARKER} + inputs['name']}}\n"


@pytest.fixture
def vera(alice):  # type: ignore[no-untyped-def]
    return make_validator()


@pytest.fixture
def listing(alice, project, vera):  # type: ignore[no-untyped-def]
    from tests.factories import make_component

    component = make_component(project=project, actor=alice, name="Sauce", code=CODE, inputs=INPUTS, outputs=OUTPUTS)
    return services.listing_approve(submission=submit(component, alice, closed_source=True), actor=vera)


@pytest.fixture
def fork(listing, charlie):  # type: ignore[no-untyped-def]
    component, _ = services.component_fork(listing=listing, project=make_project(owner=charlie), actor=charlie)
    return component


def test_the_public_faces_show_only_the_interface(client, listing):
    detail = anonymous().get(f"{API}/marketplace/components/{listing.pk}/").json()
    assert (detail["code"], detail["http"], detail["closed_source"]) == (None, None, True)
    assert detail["inputs"] == INPUTS
    page = client.get(f"/marketplace/components/{listing.pk}/").content.decode()
    assert MARKER not in page
    assert 'data-testid="code-hidden"' in page
    answer = client.post(f"{API}/cloud/loadMarketplaceComponent", {"id": listing.pk}, content_type="application/json")
    assert answer.json()["code"] is None
    assert MARKER not in answer.content.decode()


def test_the_api_hides_the_forks_code_from_its_own_project(fork, charlie):
    client = signed_in(charlie)
    component = client.get(f"{API}/components/{fork.pk}/").json()
    assert (component["code"], component["http"]) == (None, None)
    assert all(v["code"] is None for v in client.get(f"{API}/components/{fork.pk}/versions/").json())
    listed = client.get(f"{API}/components/").json()
    assert MARKER not in str(listed)
    loaded = client.post(f"{API}/cloud/loadComponent", {"id": fork.pk}, format="json").json()
    assert loaded["code"] is None
    assert MARKER not in str(loaded)


def test_the_pages_hide_the_forks_code(client, fork, charlie):
    client.force_login(charlie)
    for tab in ("", "settings/", "export/", "marketplace/", "versions/", "syntax/"):
        page = client.get(f"/components/{fork.pk}/{tab}").content.decode()
        assert MARKER not in page, tab
    assert 'data-testid="code-hidden"' in client.get(f"/components/{fork.pk}/").content.decode()
    assert ">Duplicate</button>" not in client.get(f"/components/{fork.pk}/").content.decode()


def test_the_fork_cannot_be_copied_or_rewritten(client, fork, charlie):
    api = signed_in(charlie)
    copy = api.post(f"{API}/components/{fork.pk}/duplicate/")
    assert copy.status_code == 400
    assert "closed-source" in str(copy.json())
    client.force_login(charlie)
    assert client.post(f"/components/{fork.pk}/duplicate/").status_code == 302
    assert fork.project.components.count() == 1
    rewrite = {"code": "def run(inputs, ctx):\n    return {}\n"}
    patched = api.patch(f"{API}/components/{fork.pk}/", rewrite, format="json")
    assert patched.status_code == 400
    assert "code" in patched.json()
    assert api.patch(f"{API}/components/{fork.pk}/", {"description": "mine now"}, format="json").status_code == 200


def test_a_workflow_export_never_embeds_the_code(fork, charlie):
    step = {"id": "greet", "component": fork.pk, "inputs": {"name": "Ada"}}
    workflow = make_workflow(project=fork.project, actor=charlie, steps=[step])
    api = signed_in(charlie)
    embedded = api.get(f"{API}/workflows/{workflow.pk}/export/", {"format": "json"})
    assert embedded.status_code == 400
    assert MARKER not in embedded.content.decode()
    by_reference = api.get(f"{API}/workflows/{workflow.pk}/export/", {"format": "json", "components": "reference"})
    assert by_reference.status_code == 200
    assert MARKER not in by_reference.content.decode()


def test_validators_still_read_it(listing, vera):
    submission = listing.latest_submission()
    detail = signed_in(vera).get(f"{API}/marketplace/submissions/{submission.pk}/").json()
    assert MARKER in detail["code"]


def test_it_still_runs_in_the_sandbox(fork, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():  # this test is the worker
        execution = run_start(component=fork, inputs={"name": "Ada"})
    run_execute(execution.pk)
    execution.refresh_from_db()
    assert (execution.status, execution.outputs) == ("succeeded", {"greeting": "Hello, Ada"})


def test_a_failing_run_shows_no_line_of_its_code(alice, charlie, project, vera, django_capture_on_commit_callbacks):
    from tests.factories import make_component

    failing = f"def run(inputs, ctx):\n    {MARKER} = inputs['name']\n    return {{'greeting': 1 / 0}}\n"
    original = make_component(project=project, actor=alice, name="Broken", code=failing, inputs=INPUTS, outputs=OUTPUTS)
    with django_capture_on_commit_callbacks():
        own = run_start(component=original, inputs={"name": "Ada"})
    run_execute(own.pk)
    own.refresh_from_db()
    assert "1 / 0" in own.error["traceback"]  # the author sees where it broke
    listing = services.listing_approve(submission=submit(original, alice, closed_source=True), actor=vera)
    fork, _ = services.component_fork(listing=listing, project=make_project(owner=charlie), actor=charlie)
    with django_capture_on_commit_callbacks():
        execution = run_start(component=fork, inputs={"name": "Ada"})
    run_execute(execution.pk)
    execution.refresh_from_db()
    assert execution.status == "failed"
    assert execution.error["message"] == "ZeroDivisionError: division by zero"
    assert "1 / 0" not in str(execution.error)
    assert MARKER not in str(execution.error)
