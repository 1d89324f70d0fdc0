"""The Python client against a live platform: the ASGI server and a real Celery worker, started
once for the module; workflows of code components run in the sandbox."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from synchronise_client import Synchronise, SynchroniseError

from accounts import services as account_services
from tests import servers
from tests.factories import make_component, make_project, make_workflow
from workflows import services
from workflows.models import Workflow, WorkflowExecution

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]

NUMBER = {"type": "number", "subtype": "integer"}
ADD = """
def run(inputs, ctx):
    if inputs["a"] < 0:
        raise ComponentError("a must not be negative", 201)
    ctx.log(f"adding {inputs['a']} and {inputs['b']}")
    return {"sum": inputs["a"] + inputs["b"]}
"""
SLEEP = "import time\n\ndef run(inputs, ctx):\n    time.sleep(inputs['seconds'])\n    return {'done': True}\n"


@pytest.fixture(scope="module")
def platform(django_db_setup, django_db_blocker) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with django_db_blocker.unblock(), servers.asgi_server() as url, servers.celery_worker(name="workflows-client"):
        yield url


@pytest.fixture
def adder(alice, project):  # type: ignore[no-untyped-def]
    return make_component(
        project=project,
        actor=alice,
        name="Add",
        code=ADD,
        inputs=[{"name": "a", **NUMBER}, {"name": "b", **NUMBER}],
        outputs=[{"name": "sum", **NUMBER}],
    )


@pytest.fixture
def workflow(alice, project, adder):  # type: ignore[no-untyped-def]
    return make_workflow(
        project=project,
        actor=alice,
        name="Plus eleven",
        inputs=[{"name": "x", **NUMBER}],
        steps=[
            {"id": "one", "component": adder.pk, "inputs": {"a": "{{ input.x }}", "b": 1}},
            {"id": "two", "component": adder.pk, "inputs": {"a": "{{ steps.one.output.sum }}", "b": 10}},
        ],
        outputs=[{"name": "total", "value": "{{ steps.two.output.sum }}", **NUMBER}],
    )


@pytest.fixture
def sdk(platform, alice, project):  # type: ignore[no-untyped-def]
    _key, secret = account_services.api_key_create(project=project, actor=alice)
    return Synchronise(secret, base_url=platform)


def test_run_returns_the_outputs(sdk, workflow):  # type: ignore[no-untyped-def]
    assert sdk.workflows.run(workflow.pk, {"x": 5}) == {"total": 16}
    assert sdk.workflows.run(workflow.pk, {"x": "1"}, version=1) == {"total": 12}
    execution = WorkflowExecution.objects.get(inputs={"x": 5})
    assert (execution.trigger, execution.api_key.project_id) == ("api", workflow.project_id)


def test_refusals_and_failures_raise_the_typed_error(sdk, workflow):  # type: ignore[no-untyped-def]
    with pytest.raises(SynchroniseError) as missing:
        sdk.workflows.run(workflow.pk, {})
    assert (missing.value.code, missing.value.status, missing.value.body["missing"]) == (102, 400, ["x"])
    with pytest.raises(SynchroniseError) as wrong:
        sdk.workflows.run(workflow.pk, {"x": "five"})
    assert wrong.value.code == 101
    with pytest.raises(SynchroniseError) as unknown:
        sdk.workflows.run(workflow.pk + 1000, {"x": 1})
    assert (unknown.value.code, unknown.value.status) == (104, 404)
    with pytest.raises(SynchroniseError) as no_version:
        sdk.workflows.run(workflow.pk, {"x": 1}, version=9)
    assert no_version.value.code == 104
    with pytest.raises(SynchroniseError) as failed:
        sdk.workflows.run(workflow.pk, {"x": -5})  # the component raises ComponentError(…, 201)
    assert failed.value.code == 201
    assert "a must not be negative" in failed.value.message
    assert failed.value.body["status"] == "failed"
    assert [s["status"] for s in failed.value.body["steps"]] == ["failed"]


def test_run_async_then_wait_get_and_list(sdk, workflow):  # type: ignore[no-untyped-def]
    started = sdk.workflows.run_async(workflow.pk, {"x": 2})
    assert started["status"] == "queued"
    finished = sdk.executions.wait(started, timeout=30)
    assert finished["outputs"] == {"total": 13}
    assert [s["step"] for s in finished["steps"]] == ["one", "two"]
    assert sdk.executions.get(started)["status"] == "succeeded"
    assert sdk.workflow_executions.get(started["id"])["outputs"] == {"total": 13}
    listed = sdk.workflow_executions.list(workflow=workflow.pk, status="succeeded")
    assert [e["id"] for e in listed] == [started["id"]]
    failing = sdk.workflows.run_async(workflow.pk, {"x": -1})
    with pytest.raises(SynchroniseError) as failed:
        sdk.executions.wait(failing, timeout=30)
    assert failed.value.code == 201


def test_cancel_restart_and_replay(sdk, alice, project, workflow):  # type: ignore[no-untyped-def]
    sleeper = make_component(
        project=project, actor=alice, name="Sleep", code=SLEEP,
        inputs=[{"name": "seconds", "type": "number"}], outputs=[{"name": "done", "type": "bool"}],
    )  # fmt: skip
    slow = make_workflow(
        project=project,
        actor=alice,
        name="Slow",
        steps=[{"id": "nap", "component": sleeper.pk, "inputs": {"seconds": 5}}],
    )
    running = sdk.workflows.run_async(slow.pk)
    assert sdk.executions.cancel(running)["status"] == "cancelled"
    with pytest.raises(SynchroniseError) as cancelled:
        sdk.executions.wait(running)
    assert cancelled.value.body["status"] == "cancelled"

    first = sdk.executions.wait(sdk.workflows.run_async(workflow.pk, {"x": 1}))
    restarted = sdk.executions.wait(sdk.executions.restart(first, "two"), timeout=30)
    assert restarted["outputs"] == {"total": 12}
    assert {s["step"]: s["reused"] for s in restarted["steps"]} == {"one": True, "two": False}
    replayed = sdk.executions.wait(sdk.executions.replay(first), timeout=30)
    assert replayed["trigger"] == "replay"
    assert not any(s["reused"] for s in replayed["steps"])
    with pytest.raises(TypeError):
        sdk.executions.cancel(first["id"])  # a bare id is a component execution's


def test_rerun_failed_export_and_import(sdk, alice, workflow):  # type: ignore[no-untyped-def]
    with pytest.raises(SynchroniseError):
        sdk.workflows.run(workflow.pk, {"x": -3})
    (rerun,) = sdk.workflows.rerun_failed(workflow.pk)
    assert rerun["trigger"] == "replay"
    document = sdk.workflows.export(workflow.pk)
    assert document["format"] == "synchronise.workflow"
    elsewhere = make_project(owner=alice, name="Elsewhere")
    _key, secret = account_services.api_key_create(project=elsewhere, actor=alice)
    other = Synchronise(secret, base_url=sdk.base_url)
    imported = other.workflows.import_document(elsewhere.pk, document)
    copy = imported["workflow"]
    assert copy["is_valid"] is True
    services.workflow_publish(workflow=Workflow.objects.get(pk=copy["id"]), actor=alice)
    assert other.workflows.run(copy["id"], {"x": 0}) == {"total": 11}
    with pytest.raises(SynchroniseError) as refused:
        other.workflows.import_document(elsewhere.pk, sdk.workflows.export(workflow.pk, reference=True))
    assert refused.value.status == 400
    assert "components[0].ref.component" in refused.value.body["errors"]["document"]


def test_a_publishable_key_runs_a_public_workflow(platform, alice, project, workflow):  # type: ignore[no-untyped-def]
    _key, publishable = account_services.api_key_create(project=project, actor=alice, kind="publishable")
    browser = Synchronise(publishable, base_url=platform)
    with pytest.raises(SynchroniseError) as private:
        browser.workflows.run(workflow.pk, {"x": 1})
    assert private.value.code == 104
    services.workflow_update(workflow=workflow, actor=alice, public=True)
    assert browser.workflows.run(workflow.pk, {"x": 1}) == {"total": 12}
    started = browser.workflows.run_async(workflow.pk, {"x": 2})
    assert browser.executions.wait(started)["outputs"] == {"total": 13}
    with pytest.raises(SynchroniseError) as refused:
        browser.executions.cancel(started)
    assert refused.value.status == 403  # the key may read this execution, not change it
    # The original route, as the original browser library called it.
    legacy = requests.post(
        f"{platform}/workflow/run",
        json={"id": workflow.pk, "x": 3},
        headers={"x-synchronise-public-key": publishable},
        timeout=30,
    )
    assert legacy.status_code == 200, legacy.text
    assert legacy.json() == {"total": 14}  # the outputs object itself, as the original answered
