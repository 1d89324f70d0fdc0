"""The original routes ``POST /component/run`` and ``POST /workflow/run`` answer as the original did:
200 with the outputs object, 500 with ``{code, message, …}`` for every failure, and the Arduino
flag ``S_C`` prefixing ``1``/``0`` (docs/legacy-clients.md). The modern routes keep their statuses.

Refusals are checked through Django's test client; runs that reach a worker through a real
uvicorn server and a real Celery worker."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from django.test import Client

from accounts import services as account_services
from accounts.models import Plan
from components import services
from components.models import Execution
from tests import servers
from tests.factories import make_component, make_workflow
from workflows import services as workflow_services
from workflows.models import WorkflowExecution

NUMBER = {"type": "number", "subtype": "integer"}
ADD = "def run(inputs, ctx):\n    return {'sum': inputs['a'] + inputs['b']}\n"
REFUSE = "def run(inputs, ctx):\n    raise ComponentError('card declined', 402)\n"
SLEEP = "import time\n\ndef run(inputs, ctx):\n    time.sleep(inputs['seconds'])\n    return {}\n"


@pytest.fixture
def adder(alice, project):  # type: ignore[no-untyped-def]
    return make_component(
        project=project, actor=alice, name="Add", code=ADD, public=True,
        inputs=[{"name": "a", **NUMBER}, {"name": "b", **NUMBER}], outputs=[{"name": "sum", **NUMBER}],
    )  # fmt: skip


@pytest.fixture
def flow(alice, project, adder):  # type: ignore[no-untyped-def]
    return make_workflow(
        project=project, actor=alice, name="Add", public=True,
        inputs=[{"name": "a", **NUMBER}, {"name": "b", **NUMBER}],
        steps=[{"id": "add", "component": adder.pk, "inputs": {"a": "{{ input.a }}", "b": "{{ input.b }}"}}],
        outputs=[{"name": "sum", "value": "{{ steps.add.output.sum }}", **NUMBER}],
    )  # fmt: skip


@pytest.fixture
def key(alice, project) -> str:  # type: ignore[no-untyped-def]
    _key, raw = account_services.api_key_create(project=project, actor=alice, kind="publishable")
    return raw


def target(kind: str, adder: Any, flow: Any) -> tuple[str, int]:
    return ("/component/run", adder.pk) if kind == "component" else ("/workflow/run", flow.pk)


def post(route: str, body: Any, key: str | None, query: str = "") -> Any:
    headers = {"HTTP_X_SYNCHRONISE_PUBLIC_KEY": key} if key is not None else {}
    return Client().post(route + query, json.dumps(body), content_type="application/json", **headers)


def failed(response: Any, code: int | str) -> dict[str, Any]:
    """The original's failure: 500, JSON, ``{code, message, …}``."""
    assert response.status_code == 500, response.content
    assert response["Content-Type"] == "application/json; charset=utf-8"
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["message"], str)
    assert body["message"]
    return body


KINDS = ["component", "workflow"]


@pytest.mark.django_db
@pytest.mark.parametrize("kind", KINDS)
def test_every_refusal_is_a_500_with_the_code(kind, alice, project, adder, flow, key):
    route, pk = target(kind, adder, flow)
    failed(post(route, {"a": 1}, key), 103)
    failed(post(route, [1, 2], key), 103)
    assert "unknown" in failed(post(route, {"id": 999999}, key), 104)["message"]
    assert failed(post(route, {"id": pk, "a": 1}, key), 102)["missing"] == ["b"]
    incorrect = failed(post(route, {"id": pk, "a": 1, "b": "two"}, key), 101)["incorrect"]
    assert [item["name"] for item in incorrect] == ["b"]
    assert "x-synchronise-public-key" in failed(post(route, {"id": pk, "a": 1, "b": 2}, None), 105)["message"]
    assert "revoked" in failed(post(route, {"id": pk, "a": 1, "b": 2}, "pk_nonsense"), 105)["message"]
    # Not public: unknown to a publishable key (existence does not leak).
    if kind == "component":
        services.component_update(component=adder, actor=alice, public=False)
    else:
        workflow_services.workflow_update(workflow=flow, actor=alice, public=False)
    failed(post(route, {"id": pk, "a": 1, "b": 2}, key), 104)


@pytest.mark.django_db
@pytest.mark.parametrize("kind", KINDS)
def test_a_revoked_key_and_the_quota_are_500_too(kind, alice, project, adder, flow):
    route, pk = target(kind, adder, flow)
    revoked, raw = account_services.api_key_create(project=project, actor=alice, kind="publishable")
    account_services.api_key_revoke(key=revoked, actor=alice)
    failed(post(route, {"id": pk, "a": 1, "b": 2}, raw), 105)

    _live, raw = account_services.api_key_create(project=project, actor=alice, kind="publishable")
    account_services.user_set_plan(user=alice, plan=Plan.objects.create(name="Tiny", slug="tiny", monthly_quota=0))
    failed(post(route, {"id": pk, "a": 1, "b": 2}, raw), 108)


@pytest.mark.django_db
@pytest.mark.parametrize("kind", KINDS)
def test_a_rate_limit_is_a_500_keeping_retry_after(kind, alice, project, adder, flow):
    route, pk = target(kind, adder, flow)
    account_services.user_set_plan(user=alice, plan=Plan.objects.create(name="Slow", slug="slow", rate_limit="1/min"))
    _key, raw = account_services.api_key_create(project=project, actor=alice, kind="publishable")
    assert post(route, {"id": pk, "a": 1, "b": 2}, raw, "?async=1").status_code == 202  # an extension: below
    throttled = post(route, {"id": pk, "a": 1, "b": 2}, raw)
    body = failed(throttled, "rate_limited")
    assert int(throttled["Retry-After"]) == body["retry_after"] > 0


@pytest.mark.django_db
@pytest.mark.parametrize("kind", KINDS)
def test_the_arduino_flag_prefixes_a_zero_to_a_failure(kind, adder, flow, key):
    route, pk = target(kind, adder, flow)
    response = post(route, {"id": pk, "a": 1, "S_C": "arduino"}, key)
    assert response.status_code == 500
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.startswith(b'0{"code":102,')
    assert json.loads(response.content[1:])["missing"] == ["b"]
    # Truthy as JavaScript reads it: "0" and "false" are set; false, 0, "" and null are not.
    for flag in ("0", "false", 1, True, [], {}):
        assert post(route, {"S_C": flag}, key).content.startswith(b'0{"code":103,'), flag
    for flag in (False, 0, "", None):
        plain = post(route, {"S_C": flag}, key)
        assert plain["Content-Type"] == "application/json; charset=utf-8", flag
        assert plain.json()["code"] == 103
    # A bad key before the view ran, and a body that is not JSON (no flag can be read).
    assert post(route, {"id": pk, "S_C": 1}, "pk_nonsense").content.startswith(b'0{"code":105,')
    broken = Client().post(route, "{nope", content_type="application/json", HTTP_X_SYNCHRONISE_PUBLIC_KEY=key)
    failed(broken, "parse_error")


@pytest.mark.django_db
@pytest.mark.parametrize("kind", KINDS)
def test_the_flag_is_not_an_input_and_async_is_kept(kind, adder, flow, key):
    route, pk = target(kind, adder, flow)
    started = post(route, {"id": pk, "a": 1, "b": 2, "S_C": "arduino"}, key, "?async=1")
    assert started.status_code == 202  # not in the original: answered with the queued execution
    runs = Execution.objects if kind == "component" else WorkflowExecution.objects
    execution = runs.get(pk=started.json()["id"])
    assert (execution.trigger, execution.inputs) == ("legacy", {"a": 1, "b": 2})


@pytest.mark.django_db
def test_the_modern_routes_keep_their_statuses(adder, flow, key):
    headers = {"HTTP_X_SYNCHRONISE_PUBLIC_KEY": key}
    missing = Client().post(f"/api/v1/components/{adder.pk}/run", {"a": 1}, "application/json", **headers)
    assert (missing.status_code, missing.json()["code"]) == (400, 102)
    unknown = Client().post("/api/v1/workflows/999999/run", {}, "application/json", **headers)
    assert (unknown.status_code, unknown.json()["code"]) == (404, 104)


# --- Runs that reach a worker ----------------------------------------------------------------


@pytest.fixture(scope="module")
def platform(django_db_setup, django_db_blocker) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with django_db_blocker.unblock(), servers.asgi_server() as url, servers.celery_worker(name="legacy-routes"):
        yield url


def call(platform: str, route: str, body: dict[str, Any], key: str, query: str = "") -> requests.Response:
    headers = {"x-synchronise-public-key": key}
    return requests.post(platform + route + query, json=body, headers=headers, timeout=60)


@pytest.mark.django_db(transaction=True)
@pytest.mark.services
@pytest.mark.parametrize("kind", KINDS)
def test_a_run_answers_its_outputs_or_its_error(platform, kind, alice, project, adder, flow, key):
    route, pk = target(kind, adder, flow)
    done = call(platform, route, {"id": pk, "a": 1, "b": 2}, key)
    assert (done.status_code, done.headers["Content-Type"], done.content) == (
        200, "application/json; charset=utf-8", b'{"sum":3}',
    )  # fmt: skip
    arduino = call(platform, route, {"id": pk, "a": 40, "b": 2, "S_C": "arduino"}, key)
    assert (arduino.status_code, arduino.headers["Content-Type"], arduino.content) == (
        200, "text/plain; charset=utf-8", b'1{"sum":42}',
    )  # fmt: skip

    services.component_update(component=adder, actor=alice, code=REFUSE)
    services.component_publish(component=adder, actor=alice)
    refused = call(platform, route, {"id": pk, "a": 1, "b": 2}, key)
    assert refused.status_code == 500
    error = refused.json()
    assert (error["code"], error["message"]) == (402, "card declined")  # the component's own
    if kind == "workflow":
        assert error["step"] == "add"
    flagged = call(platform, route, {"id": pk, "a": 1, "b": 2, "S_C": True}, key)
    assert flagged.content.startswith(b'0{"code":402,')
    assert project.usage.get().count == 4  # each run counted, as on the API


@pytest.mark.django_db(transaction=True)
@pytest.mark.services
@pytest.mark.parametrize("kind", KINDS)
def test_a_run_past_the_wait_is_a_500_with_126(platform, kind, alice, project, key):
    sleeper = make_component(
        project=project, actor=alice, name="Sleep", code=SLEEP, public=True,
        inputs=[{"name": "seconds", **NUMBER}],
    )  # fmt: skip
    flow = make_workflow(
        project=project, actor=alice, name="Sleep", public=True, inputs=[{"name": "seconds", **NUMBER}],
        steps=[{"id": "nap", "component": sleeper.pk, "inputs": {"seconds": "{{ input.seconds }}"}}],
    )  # fmt: skip
    route, pk = target(kind, sleeper, flow)
    answer = call(platform, route, {"id": pk, "seconds": 4}, key, "?timeout=1")
    assert answer.status_code == 500
    body = answer.json()
    assert body["code"] == 126
    follow = "executions" if kind == "component" else "workflow-executions"
    assert f"/api/v1/{follow}/{body['execution']}/" in body["message"]


@pytest.mark.django_db
def test_the_schema_describes_the_original_answers(client):
    schema = client.get("/api/schema/?format=json").json()
    for path in ("/component/run", "/workflow/run"):
        responses = schema["paths"][path]["post"]["responses"]
        assert set(responses) == {"200", "202", "500"}, path
        assert set(responses["200"]["content"]) == {"application/json", "text/plain"}
        assert responses["500"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
        assert "S_C" in responses["500"]["description"]
