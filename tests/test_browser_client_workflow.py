"""``Synchronise.Workflow.run`` in a real browser: a tiny page on the live server's origin (its markup
set by the test, not served by a production view) runs a two-step workflow with the project's
publishable key, as a customer's site would, while a real Celery worker runs the steps."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from accounts import services as account_services
from tests import servers
from tests.factories import make_component, make_workflow
from workflows.models import Trigger, WorkflowExecution

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.services]

PAGE = """<!doctype html>
<html><head><title>A customer's page</title><script src="/static/synchronise.js"></script></head>
<body><p>Runs a workflow with a publishable key.</p></body></html>
"""
START = """([id, key, inputs]) => {
    const seen = window.__seen = {progress: [], logs: [], success: null, error: null, always: 0};
    window.Synchronise.init(key);
    window.Synchronise.Workflow.run(id, inputs, {
        progress: (p) => seen.progress.push(p),
        log: (line) => seen.logs.push(line),
        success: (outputs) => { seen.success = outputs; },
        error: (error) => { seen.error = error; },
        always: () => { seen.always += 1; },
    });
}"""
NUMBER = {"type": "number", "subtype": "integer"}


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker) -> Iterator[None]:  # type: ignore[no-untyped-def]
    with django_db_blocker.unblock(), servers.celery_worker(name="client"):
        yield


@pytest.fixture
def counting(alice, project):  # type: ignore[no-untyped-def]
    component = make_component(
        project=project,
        actor=alice,
        name="Add one",
        code="def run(inputs, ctx):\n    ctx.log(f\"got {inputs['n']}\")\n    return {'n': inputs['n'] + 1}\n",
        inputs=[{"name": "n", **NUMBER}],
        outputs=[{"name": "n", **NUMBER}],
    )
    return make_workflow(
        project=project,
        actor=alice,
        name="Count twice",
        public=True,  # a publishable key runs only public workflows
        inputs=[{"name": "n", **NUMBER}],
        steps=[
            {"id": "first", "component": component.pk, "inputs": {"n": "{{ input.n }}"}},
            {"id": "second", "component": component.pk, "inputs": {"n": "{{ steps.first.output.n }}"}},
        ],
        outputs=[{"name": "total", "value": "{{ steps.second.output.n }}", **NUMBER}],
    )


def run(page, workflow_id: int, key: str, inputs: dict[str, object]) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """What the callbacks saw, once ``always`` was called."""
    page.evaluate(START, [workflow_id, key, inputs])
    page.wait_for_function("window.__seen.always > 0", timeout=30_000)
    page.wait_for_timeout(300)  # nothing may follow `always`
    return page.evaluate("window.__seen")  # type: ignore[no-any-return]


@pytest.fixture
def customer_page(chromium, asgi_url):  # type: ignore[no-untyped-def]
    page = chromium.new_page()
    page.on("console", lambda message: print("console:", message.text))
    # A document the live server really served (Chromium lets only pages from a local address open
    # a socket to a loopback one: a page fulfilled by Playwright has no address), then our markup.
    page.goto(f"{asgi_url}/healthz")
    page.set_content(PAGE)
    page.wait_for_function("window.Synchronise !== undefined")
    return page


def test_workflow_run_reports_each_step_then_the_outputs(worker, customer_page, alice, project, counting) -> None:  # type: ignore[no-untyped-def]
    _key, publishable = account_services.api_key_create(project=project, actor=alice, kind="publishable")
    seen = run(customer_page, counting.pk, publishable, {"n": 40})

    assert seen["error"] is None
    assert seen["success"] == {"total": 42}
    assert seen["always"] == 1
    assert seen["progress"] == [
        {
            "percentage": 50,
            "totalSteps": 2,
            "currentStep": 1,
            "step": 1,
            "steps": 2,
            "status": "succeeded",
            "name": "first",
        },
        {
            "percentage": 100,
            "totalSteps": 2,
            "currentStep": 2,
            "step": 2,
            "steps": 2,
            "status": "succeeded",
            "name": "second",
        },
    ]
    assert seen["logs"] == ["got 40", "got 41"]
    execution = WorkflowExecution.objects.get(workflow=counting)
    assert execution.trigger == Trigger.API
    assert execution.api_key is not None
    assert execution.api_key.kind == "publishable"


def test_workflow_run_reports_a_refused_start_and_a_failed_step(
    worker, customer_page, alice, project, counting
) -> None:  # type: ignore[no-untyped-def]
    _key, publishable = account_services.api_key_create(project=project, actor=alice, kind="publishable")
    refused = run(customer_page, counting.pk, publishable, {"n": "many"})
    assert refused["success"] is None
    assert refused["always"] == 1
    assert (refused["error"]["status"], refused["error"]["code"]) == (400, 101)

    failing = make_component(
        project=project,
        actor=alice,
        name="Refuse",
        code="def run(inputs, ctx):\n    raise ComponentError('not today', 250)\n",
    )
    broken = make_workflow(
        project=project, actor=alice, name="Broken", public=True, steps=[{"id": "nope", "component": failing.pk}]
    )
    failed = run(customer_page, broken.pk, publishable, {})
    assert failed["success"] is None
    assert failed["error"]["code"] == 250
    assert failed["error"]["message"] == "not today"
    assert failed["error"]["step"] == "nope"
    assert failed["progress"] == [
        {
            "percentage": 100,
            "totalSteps": 1,
            "currentStep": 1,
            "step": 1,
            "steps": 1,
            "status": "failed",
            "name": "nope",
        }
    ]


def test_a_signed_in_member_runs_a_private_workflow_from_the_app(worker, chromium, asgi_url, alice, counting) -> None:  # type: ignore[no-untyped-def]
    from tests.realtime_helpers import session_cookie
    from workflows import services

    services.workflow_update(workflow=counting, actor=alice, public=False)
    context = chromium.new_context()
    name, value = session_cookie(alice).decode().split("=", 1)
    context.add_cookies([{"name": name, "value": value, "url": asgi_url}])
    page = context.new_page()
    page.goto(f"{asgi_url}/dashboard/")  # the app's own page: session and CSRF cookie, no key
    page.wait_for_function("window.Synchronise.Connection.connected")
    page.evaluate(START.replace("window.Synchronise.init(key);", ""), [counting.pk, None, {"n": 1}])
    page.wait_for_function("window.__seen.always > 0", timeout=30_000)
    seen = page.evaluate("window.__seen")
    assert seen["error"] is None
    assert seen["success"] == {"total": 3}
    assert [p["name"] for p in seen["progress"]] == ["first", "second"]
    assert WorkflowExecution.objects.get(workflow=counting).user == alice


def test_component_run_with_a_publishable_key(worker, customer_page, alice, project) -> None:  # type: ignore[no-untyped-def]
    component = make_component(
        project=project,
        actor=alice,
        name="Shout",
        public=True,
        code="def run(inputs, ctx):\n    ctx.log('shouting')\n    return {'loud': inputs['word'].upper()}\n",
        inputs=[{"name": "word", "type": "text"}],
        outputs=[{"name": "loud", "type": "text"}],
    )
    _key, publishable = account_services.api_key_create(project=project, actor=alice, kind="publishable")
    customer_page.evaluate(
        """([id, key]) => {
            const seen = window.__seen = {logs: [], success: null, error: null, always: 0};
            window.Synchronise.init(key);
            window.Synchronise.Component.run(id, {word: "hey"}, {
                log: (line) => seen.logs.push(line),
                success: (outputs) => { seen.success = outputs; },
                error: (error) => { seen.error = error; },
                always: () => { seen.always += 1; },
            });
        }""",
        [component.pk, publishable],
    )
    customer_page.wait_for_function("window.__seen.always > 0", timeout=30_000)
    seen = customer_page.evaluate("window.__seen")
    assert seen["error"] is None
    assert seen["success"] == {"loud": "HEY"}
    assert seen["logs"] == ["shouting"]
