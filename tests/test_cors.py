"""CORS on the endpoints a publishable key may use (django-cors-headers, accounts/cors.py).

A preflight on them answers any origin; the answer itself is opened to the page's origin only
for a publishable key whose allow-list has it. Everything else, and every other credential, gets
no CORS header at all. No worker: an async run only records a queued execution (nothing is sent
before the test's transaction would commit).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts import services as account_services
from accounts.models import ApiKeyKind
from components.models import Execution
from tests.apiclient import signed_in
from tests.factories import make_component, make_workflow
from workflows.models import WorkflowExecution

pytestmark = pytest.mark.django_db

SHOP = "https://shop.example"
EVIL = "https://evil.example"
NUMBER = {"type": "number", "subtype": "integer"}
CORS_HEADERS = (
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Credentials",
    "Access-Control-Allow-Headers",
    "Access-Control-Allow-Methods",
)


@pytest.fixture
def component(alice, project):  # type: ignore[no-untyped-def]
    return make_component(
        project=project,
        actor=alice,
        name="Double",
        public=True,
        code="def run(inputs, ctx):\n    return {'n': inputs['n'] * 2}\n",
        inputs=[{"name": "n", **NUMBER}],
        outputs=[{"name": "n", **NUMBER}],
    )


@pytest.fixture
def workflow(alice, project, component):  # type: ignore[no-untyped-def]
    return make_workflow(
        project=project,
        actor=alice,
        name="Double once",
        public=True,
        inputs=[{"name": "n", **NUMBER}],
        steps=[{"id": "double", "component": component.pk, "inputs": {"n": "{{ input.n }}"}}],
        outputs=[{"name": "n", "value": "{{ steps.double.output.n }}", **NUMBER}],
    )


@pytest.fixture
def shop_key(alice, project) -> str:  # type: ignore[no-untyped-def]
    """The project's publishable key, allowed on the shop's site only."""
    _key, raw = account_services.api_key_create(
        project=project, actor=alice, kind=ApiKeyKind.PUBLISHABLE, allowed_origins=[SHOP]
    )
    return raw


def preflight(path: str, origin: str) -> Any:
    return Client().options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type,x-synchronise-public-key",
    )


def post(path: str, body: dict[str, Any], *, origin: str | None, key: str | None = None, client: Any = None) -> Any:
    headers = {}
    if origin:
        headers["HTTP_ORIGIN"] = origin
    if key:
        headers["HTTP_X_SYNCHRONISE_PUBLIC_KEY"] = key
    return (client or Client()).post(path, body, content_type="application/json", **headers)


def get(path: str, *, origin: str, key: str) -> Any:
    return Client().get(path, HTTP_ORIGIN=origin, HTTP_X_SYNCHRONISE_PUBLIC_KEY=key)


def no_cors(response: Any) -> bool:
    return not any(header in response.headers for header in CORS_HEADERS)


def run_paths(workflow, component) -> list[tuple[str, dict[str, Any]]]:  # type: ignore[no-untyped-def]
    """Each run endpoint with a body that starts a run there."""
    return [
        (f"/api/v1/workflows/{workflow.pk}/run?async=1", {"n": 2}),
        (f"/api/v1/components/{component.pk}/run?async=1", {"n": 2}),
        ("/workflow/run?async=1", {"id": workflow.pk, "n": 2}),
        ("/component/run?async=1", {"id": component.pk, "n": 2}),
    ]


# --- Preflight ---------------------------------------------------------------------------------


@pytest.mark.parametrize("origin", [SHOP, EVIL, "http://127.0.0.1:8123"])
def test_a_preflight_on_a_key_endpoint_answers_any_origin(origin, workflow, component) -> None:  # type: ignore[no-untyped-def]
    paths = [path.split("?")[0] for path, _body in run_paths(workflow, component)]
    paths += ["/api/v1/executions/1/", "/api/v1/workflow-executions/1/", "/api/v1/cloud/getWorkflowExecution"]
    for path in paths:
        response = preflight(path, origin)
        assert response.status_code == 200, path
        assert response.headers["Access-Control-Allow-Origin"] == origin
        assert set(response.headers["Access-Control-Allow-Headers"].split(", ")) == {
            "content-type",
            "x-synchronise-public-key",
        }
        assert set(response.headers["Access-Control-Allow-Methods"].split(", ")) == {"GET", "POST"}
        assert "Access-Control-Allow-Credentials" not in response.headers
        assert "origin" in response.headers["Vary"].lower()


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/projects/",
        "/api/v1/workflows/",
        "/api/v1/workflows/1/",
        "/api/v1/workflow-executions/",  # the list, not one execution
        "/api/v1/workflow-executions/1/cancel/",
        "/api/v1/executions/",
        "/api/v1/cloud/listWorkflows",  # only the execution the client follows is opened
        "/api/v1/cloud/getWorkflowExecutionX",
        "/api/v1/components/1/run/extra",
        "/accounts/login/",
    ],
)
def test_other_endpoints_answer_no_preflight(path) -> None:  # type: ignore[no-untyped-def]
    assert no_cors(preflight(path, SHOP))


# --- The requests themselves -------------------------------------------------------------------


def test_a_run_from_an_allowed_origin_is_opened_to_it(shop_key, workflow, component) -> None:  # type: ignore[no-untyped-def]
    for path, body in run_paths(workflow, component):
        response = post(path, body, origin=SHOP, key=shop_key)
        assert response.status_code == 202, (path, response.content)
        assert response.headers["Access-Control-Allow-Origin"] == SHOP
        assert "Access-Control-Allow-Credentials" not in response.headers
        assert "origin" in response.headers["Vary"].lower()
    assert WorkflowExecution.objects.count() == 2
    assert Execution.objects.count() == 2


def test_a_run_from_another_origin_is_refused_and_not_opened(shop_key, workflow, component) -> None:  # type: ignore[no-untyped-def]
    for path, body in run_paths(workflow, component):
        response = post(path, body, origin=EVIL, key=shop_key)
        original = path.startswith(("/workflow/", "/component/"))
        assert response.status_code == (500 if original else 403), path  # the original's only failure status
        body = response.json()
        assert body["code"] == (105 if original else "forbidden"), body
        assert "not allowed" in body["message"]
        assert no_cors(response)
    assert not WorkflowExecution.objects.exists()
    assert not Execution.objects.exists()


def test_a_key_without_an_allow_list_is_opened_to_any_origin(alice, project, workflow) -> None:  # type: ignore[no-untyped-def]
    _key, raw = account_services.api_key_create(project=project, actor=alice, kind=ApiKeyKind.PUBLISHABLE)
    response = post(f"/api/v1/workflows/{workflow.pk}/run?async=1", {"n": 1}, origin=EVIL, key=raw)
    assert response.status_code == 202
    assert response.headers["Access-Control-Allow-Origin"] == EVIL


def test_a_refused_run_is_readable_by_the_allowed_page(shop_key, workflow) -> None:  # type: ignore[no-untyped-def]
    """The page reads why: bad inputs (101) and a missing id come back with the header."""
    bad = post(f"/api/v1/workflows/{workflow.pk}/run?async=1", {"n": "many"}, origin=SHOP, key=shop_key)
    assert (bad.status_code, bad.json()["code"]) == (400, 101)
    assert bad.headers["Access-Control-Allow-Origin"] == SHOP
    missing = post("/workflow/run", {"n": 1}, origin=SHOP, key=shop_key)
    assert (missing.status_code, missing.json()["code"]) == (500, 103)  # the original's answer
    assert missing.headers["Access-Control-Allow-Origin"] == SHOP


def test_a_revoked_or_unknown_key_gets_no_header(alice, project, shop_key, workflow) -> None:  # type: ignore[no-untyped-def]
    path = f"/api/v1/workflows/{workflow.pk}/run?async=1"
    assert no_cors(post(path, {"n": 1}, origin=SHOP, key="pk_unknown"))
    account_services.api_key_create(project=project, actor=alice, kind=ApiKeyKind.PUBLISHABLE)  # revokes shop_key
    refused = post(path, {"n": 1}, origin=SHOP, key=shop_key)
    assert refused.status_code == 401
    assert no_cors(refused)


def test_the_execution_reads_follow_the_same_rule(shop_key, workflow, component) -> None:  # type: ignore[no-untyped-def]
    started = post(f"/api/v1/workflows/{workflow.pk}/run?async=1", {"n": 1}, origin=SHOP, key=shop_key).json()
    ran = post(f"/api/v1/components/{component.pk}/run?async=1", {"n": 1}, origin=SHOP, key=shop_key).json()
    for path in (f"/api/v1/workflow-executions/{started['id']}/", f"/api/v1/executions/{ran['id']}/"):
        mine = get(path, origin=SHOP, key=shop_key)
        assert mine.status_code == 200, path
        assert mine.headers["Access-Control-Allow-Origin"] == SHOP
        elsewhere = get(path, origin=EVIL, key=shop_key)
        assert elsewhere.status_code == 403
        assert no_cors(elsewhere)


def test_the_clients_http_fallback_follows_the_same_rule(shop_key, workflow) -> None:  # type: ignore[no-untyped-def]
    """static/synchronise.js reads getWorkflowExecution over HTTP while its socket is not open."""
    started = post(f"/api/v1/workflows/{workflow.pk}/run?async=1", {"n": 1}, origin=SHOP, key=shop_key).json()
    mine = post("/api/v1/cloud/getWorkflowExecution", {"id": started["id"]}, origin=SHOP, key=shop_key)
    assert mine.status_code == 200
    assert mine.json()["status"] == "queued"
    assert [step["id"] for step in mine.json()["steps"]] == ["double"]
    assert mine.headers["Access-Control-Allow-Origin"] == SHOP
    elsewhere = post("/api/v1/cloud/getWorkflowExecution", {"id": started["id"]}, origin=EVIL, key=shop_key)
    assert elsewhere.status_code == 403
    assert no_cors(elsewhere)


def test_secret_keys_and_sessions_gain_nothing_cross_origin(alice, project, workflow) -> None:  # type: ignore[no-untyped-def]
    _key, secret = account_services.api_key_create(project=project, actor=alice, kind=ApiKeyKind.SECRET)
    path = f"/api/v1/workflows/{workflow.pk}/run?async=1"
    with_secret = Client().post(
        path, {"n": 1}, content_type="application/json", HTTP_ORIGIN=SHOP, HTTP_AUTHORIZATION=f"Bearer {secret}"
    )
    assert with_secret.status_code == 202  # as from a server: it runs, but no page may read it
    assert no_cors(with_secret)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    session = post(path, {"n": 1}, origin=SHOP, client=browser)
    assert session.status_code == 403  # the session's CSRF check refuses it
    assert no_cors(session)
    past_csrf = post(path, {"n": 1}, origin=SHOP, client=signed_in(alice))  # this test client skips CSRF
    assert past_csrf.status_code == 202
    assert no_cors(past_csrf)


def test_a_request_without_origin_is_unchanged(shop_key, workflow) -> None:  # type: ignore[no-untyped-def]
    response = post(f"/api/v1/workflows/{workflow.pk}/run?async=1", {"n": 1}, origin=None, key=shop_key)
    assert response.status_code == 403  # the key has an allow-list: a request without Origin is not on it
    assert no_cors(response)


def test_other_endpoints_get_no_header_whoever_asks(alice, project, shop_key) -> None:  # type: ignore[no-untyped-def]
    _key, secret = account_services.api_key_create(project=project, actor=alice, kind=ApiKeyKind.SECRET)
    by_secret = Client().get("/api/v1/projects/", HTTP_ORIGIN=SHOP, HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert by_secret.status_code == 200
    assert no_cors(by_secret)
    by_session = signed_in(alice).get("/api/v1/projects/", HTTP_ORIGIN=SHOP)
    assert by_session.status_code == 200
    assert no_cors(by_session)
    by_key = get("/api/v1/projects/", origin=SHOP, key=shop_key)
    assert by_key.status_code == 401  # a publishable key only runs
    assert no_cors(by_key)
    cloud = Client().post(
        "/api/v1/cloud/listWorkflows",
        {"project_id": project.pk},
        content_type="application/json",
        HTTP_ORIGIN=SHOP,
        HTTP_X_SYNCHRONISE_PUBLIC_KEY=shop_key,
    )
    assert no_cors(cloud)
