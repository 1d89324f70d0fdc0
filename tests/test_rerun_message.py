"""The "Re-run failures" button says why failures on bad input were left out (issue 15, bug 8), on the page
and in the API answer, instead of "No failed execution is left to re-run" beside a listed failure."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from components.errors import RunError
from tests.apiclient import API
from tests.factories import make_component, make_workflow
from workflows import runs
from workflows.models import Workflow, WorkflowExecution

pytestmark = pytest.mark.django_db

NUMBER = {"type": "number", "subtype": "integer"}
ADD = "def run(inputs, ctx):\n    return {'sum': inputs['a'] + 1}\n"


@pytest.fixture
def workflow(alice, project):  # type: ignore[no-untyped-def]
    adder = make_component(
        project=project, actor=alice, name="Add", code=ADD,
        inputs=[{"name": "a", **NUMBER}], outputs=[{"name": "sum", **NUMBER}],
    )  # fmt: skip
    return make_workflow(
        project=project,
        actor=alice,
        inputs=[{"name": "x", **NUMBER}],
        steps=[{"id": "one", "component": adder.pk, "inputs": {"a": "{{ input.x }}"}}],
    )


def bad_input(workflow: Workflow, alice) -> WorkflowExecution:  # type: ignore[no-untyped-def]
    """A run refused for an input that is not a number: recorded as failed with 101."""
    with pytest.raises(RunError):
        runs.execution_start(workflow=workflow, inputs={"x": "many"}, user=alice)
    return WorkflowExecution.objects.filter(workflow=workflow, error__code=101).latest("id")


def failed(workflow: Workflow, alice) -> WorkflowExecution:  # type: ignore[no-untyped-def]
    """A run that failed in a step (as the engine would have recorded it)."""
    execution = runs.execution_start(workflow=workflow, inputs={"x": 1}, user=alice)
    WorkflowExecution.objects.filter(pk=execution.pk).update(
        status="failed", error={"code": 201, "message": "boom"}, started_at=timezone.now(), finished_at=timezone.now()
    )
    return execution


def test_the_page_says_why_bad_input_failures_are_skipped(client, alice, bob, workflow):  # type: ignore[no-untyped-def]
    first, second = bad_input(workflow, alice), bad_input(workflow, alice)
    client.force_login(bob)
    page = client.post(reverse("workflows_rerun_failed", args=[workflow.pk]), follow=True).content.decode()
    assert "No failed execution is left to re-run." not in page
    assert (
        f"Nothing was re-run. 2 failed executions were skipped (#{second.pk}, #{first.pk}): they failed on bad "
        "input (101/102): re-running them with the same inputs would fail again; run them with corrected inputs."
    ) in page
    assert not WorkflowExecution.objects.filter(source__in=[first, second]).exists()


def test_the_page_says_what_ran_and_what_was_skipped(client, alice, bob, workflow):  # type: ignore[no-untyped-def]
    skipped, replayed = bad_input(workflow, alice), failed(workflow, alice)
    client.force_login(bob)
    page = client.post(reverse("workflows_rerun_failed", args=[workflow.pk]), follow=True).content.decode()
    assert f"Re-running 1 failed execution. 1 failed execution was skipped (#{skipped.pk}): they failed" in page
    assert WorkflowExecution.objects.filter(source=replayed).count() == 1


def test_the_api_answer_counts_and_explains_the_skipped(client, alice, bob, workflow):  # type: ignore[no-untyped-def]
    skipped, replayed = bad_input(workflow, alice), failed(workflow, alice)
    client.force_login(bob)
    answer = client.post(f"{API}/workflows/{workflow.pk}/rerun-failed/", {}, content_type="application/json")
    assert answer.status_code == 201
    body = answer.json()
    assert [e["source"] for e in body["started"]] == [replayed.pk]
    assert body["skipped"] == {
        "count": 1,
        "executions": [skipped.pk],
        "reason": "they failed on bad input (101/102): re-running them with the same inputs would fail again",
    }
    assert body["message"].startswith("Re-running 1 failed execution. 1 failed execution was skipped")
    again = client.post(f"{API}/workflows/{workflow.pk}/rerun-failed/", {}, content_type="application/json").json()
    assert (again["started"], again["skipped"]["count"]) == ([], 1)
    assert again["message"].startswith("Nothing was re-run. 1 failed execution was skipped")


def test_nothing_to_say_when_there_is_no_failure(client, bob, workflow):  # type: ignore[no-untyped-def]
    client.force_login(bob)
    page = client.post(reverse("workflows_rerun_failed", args=[workflow.pk]), follow=True).content.decode()
    assert "No failed execution is left to re-run." in page
    assert "skipped" not in page


def test_a_viewer_and_an_outsider_cannot_rerun(client, alice, viewer, charlie, workflow):  # type: ignore[no-untyped-def]
    bad_input(workflow, alice)
    for person, status in ((viewer, 403), (charlie, 404)):
        client.force_login(person)
        answer = client.post(f"{API}/workflows/{workflow.pk}/rerun-failed/", {}, content_type="application/json")
        assert answer.status_code == status
        assert client.post(reverse("workflows_rerun_failed", args=[workflow.pk])).status_code == status
