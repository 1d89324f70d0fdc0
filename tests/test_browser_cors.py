"""``synchronise.js`` on a customer's own site, in a real browser: a page served from a second
loopback origin (a tiny ``http.server``, not the platform) loads the script from the live server and
runs a public workflow and a component with the project's publishable key across origins (CORS),
while a real Celery worker runs the steps."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from accounts import services as account_services
from accounts.models import ApiKeyKind
from tests import servers
from tests.factories import make_component, make_workflow
from workflows.models import WorkflowExecution

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.services]

NUMBER = {"type": "number", "subtype": "integer"}
PAGE = """<!doctype html>
<html><head><title>The shop</title><script src="{platform}/static/synchronise.js"></script></head>
<body><p>A customer's page on its own origin.</p></body></html>
"""
START = """([kind, id, key, platform, inputs]) => {
    const seen = window.__seen = {progress: [], logs: [], success: null, error: null, always: 0};
    window.Synchronise.init(key, {url: platform});
    window.Synchronise[kind].run(id, inputs, {
        progress: (p) => seen.progress.push(p),
        log: (line) => seen.logs.push(line),
        success: (outputs) => { seen.success = outputs; },
        error: (error) => { seen.error = error; },
        always: () => { seen.always += 1; },
    });
}"""


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker) -> Iterator[None]:  # type: ignore[no-untyped-def]
    with django_db_blocker.unblock(), servers.celery_worker(name="cors"):
        yield


@pytest.fixture(scope="module")
def shop(asgi_url: str) -> Iterator[str]:
    """The customer's site: another port on loopback, so another origin than the platform's."""
    page = PAGE.format(platform=asgi_url).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = (200, page) if self.path == "/" else (404, b"")
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def doubling(alice, project):  # type: ignore[no-untyped-def]
    return make_component(
        project=project,
        actor=alice,
        name="Double",
        public=True,
        code="def run(inputs, ctx):\n    ctx.log('doubling')\n    return {'n': inputs['n'] * 2}\n",
        inputs=[{"name": "n", **NUMBER}],
        outputs=[{"name": "n", **NUMBER}],
    )


@pytest.fixture
def workflow(alice, project, doubling):  # type: ignore[no-untyped-def]
    return make_workflow(
        project=project,
        actor=alice,
        name="Double once",
        public=True,  # a publishable key runs only public workflows
        inputs=[{"name": "n", **NUMBER}],
        steps=[{"id": "double", "component": doubling.pk, "inputs": {"n": "{{ input.n }}"}}],
        outputs=[{"name": "n", "value": "{{ steps.double.output.n }}", **NUMBER}],
    )


def publishable_key(project, alice, *origins: str) -> str:  # type: ignore[no-untyped-def]
    _key, raw = account_services.api_key_create(
        project=project, actor=alice, kind=ApiKeyKind.PUBLISHABLE, allowed_origins=list(origins)
    )
    return raw


@pytest.fixture
def shop_page(chromium, shop):  # type: ignore[no-untyped-def]
    page = chromium.new_page()
    page.on("console", lambda message: print("console:", message.text))
    page.requests = []  # what the page asked the platform for, as "METHOD path"
    page.on("request", lambda request: page.requests.append(f"{request.method} {request.url}"))
    page.answers = {}  # "METHOD url" → the response's headers
    page.on("response", lambda r: page.answers.__setitem__(f"{r.request.method} {r.url}", r.headers))
    page.goto(shop + "/")
    page.wait_for_function("window.Synchronise !== undefined")
    assert page.evaluate("location.origin") == shop
    return page


def run(page, kind: str, id: int, key: str, platform: str, inputs: dict[str, Any]) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """What the callbacks saw, once ``always`` was called."""
    page.evaluate(START, [kind, id, key, platform, inputs])
    page.wait_for_function("window.__seen.always > 0", timeout=30_000)
    page.wait_for_timeout(300)  # nothing may follow `always`
    return page.evaluate("window.__seen")  # type: ignore[no-any-return]


def test_a_page_on_an_allowed_origin_runs_a_public_workflow(
    worker, shop_page, shop, asgi_url, alice, project, workflow
) -> None:  # type: ignore[no-untyped-def]
    key = publishable_key(project, alice, shop)
    seen = run(shop_page, "Workflow", workflow.pk, key, asgi_url, {"n": 21})

    assert seen["error"] is None
    assert seen["success"] == {"n": 42}
    assert seen["always"] == 1
    assert seen["logs"] == ["doubling"]
    assert seen["progress"] == [
        {
            "percentage": 100,
            "totalSteps": 1,
            "currentStep": 1,
            "step": 1,
            "steps": 1,
            "status": "succeeded",
            "name": "double",
        }
    ]
    # The socket from the shop's origin was accepted too (the key's allow-list has it).
    assert shop_page.evaluate("window.Synchronise.Connection.connected") is True
    execution = WorkflowExecution.objects.get(workflow=workflow)
    assert execution.api_key is not None
    assert execution.api_key.kind == ApiKeyKind.PUBLISHABLE
    started = shop_page.answers[f"POST {asgi_url}/api/v1/workflows/{workflow.pk}/run?async=1"]
    assert started["access-control-allow-origin"] == shop
    assert "access-control-allow-credentials" not in started


def test_a_key_not_allowed_on_that_origin_calls_the_error_callback(
    worker, shop_page, asgi_url, alice, project, workflow
) -> None:  # type: ignore[no-untyped-def]
    key = publishable_key(project, alice, "https://shop.example")
    seen = run(shop_page, "Workflow", workflow.pk, key, asgi_url, {"n": 21})

    assert seen["success"] is None
    assert seen["always"] == 1
    # The platform answered 403 without the CORS header: the browser shows the page no answer.
    assert (seen["error"]["status"], seen["error"]["code"]) == (0, "network")
    assert not WorkflowExecution.objects.exists()


def test_without_the_socket_the_run_still_finishes_by_polling(
    worker, shop_page, shop, asgi_url, alice, project, workflow
) -> None:  # type: ignore[no-untyped-def]
    """A network that blocks WebSockets (the browser closes every one): the client reads the
    execution over HTTP instead (getWorkflowExecution, the
    same data as over the socket)."""
    shop_page.route_web_socket("**/ws/**", lambda socket: socket.close())
    key = publishable_key(project, alice, shop)
    seen = run(shop_page, "Workflow", workflow.pk, key, asgi_url, {"n": 5})

    assert seen["error"] is None
    assert seen["success"] == {"n": 10}
    assert seen["logs"] == ["doubling"]
    assert seen["progress"] == [
        {
            "percentage": 100,
            "totalSteps": 1,
            "currentStep": 1,
            "step": 1,
            "steps": 1,
            "status": "succeeded",
            "name": "double",
        }
    ]
    assert shop_page.evaluate("window.Synchronise.Connection.connected") is False
    followed = f"POST {asgi_url}/api/v1/cloud/getWorkflowExecution"
    assert followed in shop_page.requests
    assert shop_page.answers[followed]["access-control-allow-origin"] == shop


def test_a_page_on_an_allowed_origin_runs_a_public_component(
    worker, shop_page, shop, asgi_url, alice, project, doubling
) -> None:  # type: ignore[no-untyped-def]
    key = publishable_key(project, alice, shop)
    seen = run(shop_page, "Component", doubling.pk, key, asgi_url, {"n": 4})

    assert seen["error"] is None
    assert seen["success"] == {"n": 8}
    assert seen["logs"] == ["doubling"]
    assert any(f"GET {asgi_url}/api/v1/executions/" in request for request in shop_page.requests)
