"""Webhooks: ``/hooks/<workflow_id>/<token>`` with a real Celery worker running the workflow, and
the trigger settings API (``/api/v1/workflows/{id}/webhook``)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator

import pytest
from django.test import Client

from accounts import services as account_services
from accounts.models import Plan
from components import credentials
from tests import servers
from tests.factories import make_component, make_workflow
from workflows import runs, triggers
from workflows.models import Status, Trigger, Webhook, WorkflowExecution

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]

GREET = """
def run(inputs, ctx):
    ctx.log("greeting " + inputs["name"])
    return {"greeting": "Hello " + inputs["name"], "seen": inputs["seen"]}
"""
SLEEP = """
import time

def run(inputs, ctx):
    time.sleep(inputs["seconds"])
    return {"done": True}
"""
JSON_OPTIONAL = {"type": "json", "optional": True}


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker) -> Iterator[None]:  # type: ignore[no-untyped-def]
    with django_db_blocker.unblock(), servers.celery_worker(name="hooks"):
        yield


@pytest.fixture(autouse=True)
def _settled(worker: None) -> Iterator[None]:
    """Every test here has the worker: what a test started runs. Wait for its end, so the database
    is not flushed under the worker's feet (PostgreSQL's TRUNCATE would deadlock with it)."""
    yield
    for execution in WorkflowExecution.objects.active():
        runs.execution_wait(execution, timeout=30)


@pytest.fixture
def greeter(alice, project):  # type: ignore[no-untyped-def]
    """A workflow greeting ``name`` and echoing what the webhook saw of the request."""
    component = make_component(
        project=project,
        actor=alice,
        name="Greet",
        code=GREET,
        inputs=[{"name": "name", "type": "text"}, {"name": "seen", "type": "json"}],
        outputs=[{"name": "greeting", "type": "text"}, {"name": "seen", "type": "json"}],
    )
    return make_workflow(
        project=project,
        actor=alice,
        name="Greeter",
        inputs=[
            {"name": "name", "type": "text", "optional": True, "default": "world"},
            {"name": "query", **JSON_OPTIONAL},
            {"name": "headers", **JSON_OPTIONAL},
        ],
        steps=[
            {
                "id": "greet",
                "component": component.pk,
                "inputs": {"name": "{{ input.name }}", "seen": {"query": "{{ input.query }}"}},
            }
        ],
        outputs=[
            {"name": "greeting", "value": "{{ steps.greet.output.greeting }}", "type": "text"},
            {"name": "seen", "value": "{{ steps.greet.output.seen }}"},
        ],
    )


@pytest.fixture
def sleeper(alice, project):  # type: ignore[no-untyped-def]
    component = make_component(
        project=project,
        actor=alice,
        name="Sleep",
        code=SLEEP,
        inputs=[{"name": "seconds", "type": "number"}],
        outputs=[{"name": "done", "type": "bool"}],
    )
    return make_workflow(
        project=project,
        actor=alice,
        name="Slow",
        steps=[{"id": "nap", "component": component.pk, "inputs": {"seconds": 3}}],
        outputs=[{"name": "done", "value": "{{ steps.nap.output.done }}"}],
    )


def hook(workflow, alice, **settings) -> str:  # type: ignore[no-untyped-def]
    """Enable the workflow's webhook; its path with the token."""
    _webhook, token = triggers.webhook_enable(workflow=workflow, actor=alice, **settings)
    assert token is not None
    return triggers.webhook_path(workflow.pk, token)


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# --- Happy paths, with a worker ------------------------------------------------------------------


def test_a_sync_webhook_answers_with_the_outputs(worker, client: Client, alice, greeter) -> None:  # type: ignore[no-untyped-def]
    path = hook(greeter, alice, timeout_seconds=30)
    response = client.post(
        path + "?source=test&tag=a&tag=b",
        data=json.dumps({"name": "Ada"}),
        content_type="application/json",
        headers={
            "X-Custom": "yes",
            "Authorization": "Bearer nope",
            "Cookie": "session=secret",
            "X-Api-Key": "k1",
            "Api-Key": "k2",
            "X-Gitlab-Token": "t1",
            "X-Webhook-Secret": "s1",
            "X-Shopify-Access-Token": "t2",
            "X-Hub-Signature-256": "sha256=00",
            "X-Tokenised": "kept",
        },
    )
    assert response.status_code == 200, response.content
    assert response.json() == {"greeting": "Hello Ada", "seen": {"query": {"source": "test", "tag": ["a", "b"]}}}
    execution = WorkflowExecution.objects.get(workflow=greeter)
    assert response["X-Synchronise-Execution"] == str(execution.pk)
    assert execution.trigger == Trigger.WEBHOOK
    assert execution.status == Status.SUCCEEDED
    # Every request part is an input; credentials and cookies are not.
    assert execution.inputs["body"] == {"name": "Ada"}
    headers = execution.inputs["headers"]
    assert (headers["x-custom"], headers["x-hub-signature-256"], headers["x-tokenised"]) == ("yes", "sha256=00", "kept")
    hidden = (
        "authorization",
        "cookie",
        "x-api-key",
        "api-key",
        "x-gitlab-token",
        "x-webhook-secret",
        "x-shopify-access-token",
    )
    assert not set(hidden) & set(headers)
    for value in ("nope", "session=secret", "k1", "k2", "t1", "s1", "t2"):
        assert value not in json.dumps(execution.inputs)


def test_an_accepted_webhook_answers_202_and_runs(worker, client: Client, alice, greeter) -> None:  # type: ignore[no-untyped-def]
    path = hook(greeter, alice, respond="accepted")
    response = client.post(path, data={"name": "Grace"})  # a form
    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"execution_id", "status"}
    execution = runs.execution_wait(WorkflowExecution.objects.get(pk=body["execution_id"]), timeout=30)
    assert execution.status == Status.SUCCEEDED, execution.error
    assert execution.outputs["greeting"] == "Hello Grace"


def test_a_sync_webhook_past_its_timeout_answers_202(worker, client: Client, alice, sleeper) -> None:  # type: ignore[no-untyped-def]
    path = hook(sleeper, alice, timeout_seconds=1)
    response = client.post(path, data="{}", content_type="application/json")
    assert response.status_code == 202
    body = response.json()
    assert body["status"] in ("queued", "running")
    execution = runs.execution_wait(WorkflowExecution.objects.get(pk=body["execution_id"]), timeout=30)
    assert execution.status == Status.SUCCEEDED


def test_a_retry_with_the_same_idempotency_key_gets_the_same_execution(  # type: ignore[no-untyped-def]
    worker, client: Client, alice, greeter
) -> None:
    path = hook(greeter, alice)
    send = lambda: client.post(  # noqa: E731 - the same request twice
        path, data=json.dumps({"name": "Ada"}), content_type="application/json", headers={"Idempotency-Key": "ev-1"}
    )
    first, second = send(), send()
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert first["X-Synchronise-Execution"] == second["X-Synchronise-Execution"]
    assert WorkflowExecution.objects.filter(workflow=greeter).count() == 1
    other = client.post(
        path, data=json.dumps({"name": "Bo"}), content_type="application/json", headers={"Idempotency-Key": "ev-2"}
    )
    assert other.json()["greeting"] == "Hello Bo"
    assert WorkflowExecution.objects.filter(workflow=greeter).count() == 2


def test_a_failed_execution_answers_with_its_error(worker, client: Client, alice, project) -> None:  # type: ignore[no-untyped-def]
    failing = make_component(
        project=project,
        actor=alice,
        name="Fail",
        code="from synchronise import ComponentError\n\ndef run(inputs, ctx):\n    raise ComponentError('no', 242)\n",
    )
    workflow = make_workflow(project=project, actor=alice, steps=[{"id": "boom", "component": failing.pk}])
    response = client.post(hook(workflow, alice), data="{}", content_type="application/json")
    body = response.json()
    assert body["status"] == "failed"
    assert response.status_code == 422
    assert body["code"] == 242
    assert body["step"] == "boom"


# --- Refusals: nothing starts ----------------------------------------------------------------------


def test_an_unknown_workflow_a_bad_token_and_a_disabled_webhook_are_the_same_404(  # type: ignore[no-untyped-def]
    client: Client, alice, greeter
) -> None:
    path = hook(greeter, alice)
    token = path.rsplit("/", 1)[1]
    answers = [
        client.post(f"/hooks/{greeter.pk}/{token}x", data="{}", content_type="application/json"),
        client.post(f"/hooks/{greeter.pk + 1000}/{token}", data="{}", content_type="application/json"),
        client.post(f"/hooks/{greeter.pk}/whk_", data="{}", content_type="application/json"),
    ]
    triggers.webhook_disable(workflow=greeter, actor=alice)
    answers.append(client.post(path, data="{}", content_type="application/json"))
    assert [a.status_code for a in answers] == [404] * 4
    assert len({a.content for a in answers}) == 1
    assert not WorkflowExecution.objects.exists()
    # Enabled again, the same URL works again.
    triggers.webhook_enable(workflow=greeter, actor=alice, respond="accepted")
    assert client.post(path, data=json.dumps({"name": "x"}), content_type="application/json").status_code == 202


def test_a_rotated_token_replaces_the_old_one(client: Client, alice, greeter) -> None:  # type: ignore[no-untyped-def]
    old = hook(greeter, alice, respond="accepted")
    _webhook, token = triggers.webhook_rotate(workflow=greeter, actor=alice)
    assert client.post(old, data={"name": "x"}).status_code == 404
    assert client.post(triggers.webhook_path(greeter.pk, token), data={"name": "x"}).status_code == 202
    stored = Webhook.objects.get(workflow=greeter)
    assert token not in (stored.token_digest, stored.token_prefix)  # only its digest and first characters
    assert stored.token_digest == hashlib.sha256(token.encode()).hexdigest()
    assert token.startswith(stored.token_prefix)


def test_a_method_not_allowed_gets_405_with_allow(client: Client, alice, greeter) -> None:  # type: ignore[no-untyped-def]
    path = hook(greeter, alice, methods=["post", "PUT"], respond="accepted")
    for refused in (client.get(path), client.delete(path), client.patch(path)):
        assert refused.status_code == 405
        assert refused["Allow"] == "POST, PUT"
    assert not WorkflowExecution.objects.exists()
    assert client.put(path, data=json.dumps({"name": "x"}), content_type="application/json").status_code == 202


def test_signatures_are_checked_before_anything_starts(client: Client, alice, project, greeter) -> None:  # type: ignore[no-untyped-def]
    credentials.credential_set(project=project, actor=alice, name="HOOK_KEY", value="s3cret")
    path = hook(greeter, alice, respond="accepted", signature_credential="HOOK_KEY", signature_header="X-Hub-Sig")
    body = json.dumps({"name": "Ada"}).encode()
    post = lambda **headers: client.post(path, data=body, content_type="application/json", headers=headers)  # noqa: E731

    assert post().status_code == 401
    assert post(**{"X-Hub-Sig": sign("wrong", body)}).status_code == 401
    assert post(**{"X-Hub-Sig": sign("s3cret", body + b" ")}).status_code == 401
    assert post(**{"X-Hub-Sig": "md5=" + sign("s3cret", body)[7:]}).status_code == 401
    assert not WorkflowExecution.objects.exists()

    good = post(**{"X-Hub-Sig": sign("s3cret", body)})
    assert good.status_code == 202
    assert WorkflowExecution.objects.get().inputs["name"] == "Ada"

    # A deleted signing credential refuses calls rather than accepting unsigned ones.
    credentials.credential_delete(project=project, actor=alice, name="HOOK_KEY")
    assert post(**{"X-Hub-Sig": sign("s3cret", body)}).status_code == 401
    assert WorkflowExecution.objects.count() == 1


def test_a_body_over_the_cap_gets_413(client: Client, alice, greeter) -> None:  # type: ignore[no-untyped-def]
    from workflows.webhooks import MAX_BODY_BYTES

    path = hook(greeter, alice, respond="accepted")
    response = client.post(path, data=b"x" * (MAX_BODY_BYTES + 1), content_type="text/plain")
    assert response.status_code == 413
    assert not WorkflowExecution.objects.exists()
    assert client.post(path, data=b"x" * MAX_BODY_BYTES, content_type="text/plain").status_code == 202


def test_over_quota_gets_429_with_code_108(client: Client, alice, greeter) -> None:  # type: ignore[no-untyped-def]
    plan = Plan.objects.create(name="None left", slug="none-left", monthly_quota=0)
    account_services.user_set_plan(user=alice, plan=plan)
    response = client.post(hook(greeter, alice), data=json.dumps({"name": "Ada"}), content_type="application/json")
    assert response.status_code == 429
    assert response.json()["code"] == 108
    assert not WorkflowExecution.objects.exists()


def test_calls_are_rate_limited_per_webhook(client: Client, alice, greeter) -> None:  # type: ignore[no-untyped-def]
    plan = Plan.objects.create(name="Slow", slug="slow", monthly_quota=-1, rate_limit="2/min")
    account_services.user_set_plan(user=alice, plan=plan)
    path = hook(greeter, alice, respond="accepted")
    codes = [client.post(path, data={"name": "x"}).status_code for _ in range(3)]
    assert codes == [202, 202, 429]
    refused = client.post(path, data={"name": "x"})
    assert int(refused["Retry-After"]) >= 1
    assert WorkflowExecution.objects.count() == 2


def test_the_request_becomes_the_inputs(client: Client, alice, greeter) -> None:  # type: ignore[no-untyped-def]
    path = hook(greeter, alice, respond="accepted", methods=["GET", "POST"])

    def inputs_of(response):  # type: ignore[no-untyped-def]
        assert response.status_code == 202, response.content
        return WorkflowExecution.objects.get(pk=response.json()["execution_id"]).inputs

    fields = {"name": "Ada", "extra": [1], "query": "mine"}
    json_body = inputs_of(client.post(path, data=json.dumps(fields), content_type="application/json"))
    assert json_body["extra"] == [1]  # undeclared inputs pass through
    assert json_body["query"] == {}  # the request's parts win over same-named fields...
    assert json_body["body"]["query"] == "mine"  # ...which stay readable in `body`

    form = inputs_of(client.post(path, data={"name": "Bo", "tags": ["a", "b"]}))
    assert form["body"] == {"name": "Bo", "tags": ["a", "b"]}
    assert form["name"] == "Bo"

    urlencoded = inputs_of(client.post(path, data="name=Eve&n=1&n=2", content_type="application/x-www-form-urlencoded"))
    assert urlencoded["body"] == {"name": "Eve", "n": ["1", "2"]}

    text = inputs_of(client.post(path + "?name=Cy", data="hello", content_type="text/plain"))
    assert text["body"] == "hello"
    assert text["query"] == {"name": "Cy"}

    query_only = inputs_of(client.get(path + "?name=Di"))
    assert query_only["name"] == "world"  # fields come from the body (JSON or form), not the query...
    assert query_only["query"] == {"name": "Di"}  # ...which is its own input
    assert query_only["body"] is None

    broken = client.post(path, data="{not json", content_type="application/json")
    assert broken.status_code == 400
    assert broken.json()["code"] == 101


def test_a_webhook_is_csrf_exempt(alice, greeter) -> None:  # type: ignore[no-untyped-def]
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    path = hook(greeter, alice, respond="accepted")
    assert strict.post(path, data=json.dumps({"name": "x"}), content_type="application/json").status_code == 202


# --- Over HTTP: the ASGI server's fast path (workflows/webhook_asgi.py) ----------------------------


@pytest.fixture(scope="module")
def web(django_db_setup, django_db_blocker) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with django_db_blocker.unblock(), servers.asgi_server() as url:
        yield url


def test_over_http_a_webhook_answers_around_the_middleware(web: str, alice, greeter) -> None:  # type: ignore[no-untyped-def]
    import requests

    path = hook(greeter, alice, timeout_seconds=20)
    response = requests.post(web + path + "?source=http", json={"name": "Ada"}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["greeting"] == "Hello Ada"
    assert response.json()["seen"] == {"query": {"source": "http"}}
    execution = WorkflowExecution.objects.get(pk=int(response.headers["X-Synchronise-Execution"]))
    assert (execution.status, execution.trigger) == (Status.SUCCEEDED, Trigger.WEBHOOK)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert int(response.headers["Content-Length"]) == len(response.content)
    # What only the middleware adds: absent here, present on any other path (which Django serves).
    for header in ("X-Frame-Options", "Set-Cookie", "Vary"):
        assert header not in response.headers
    assert requests.get(web + "/healthz", timeout=10).headers["X-Frame-Options"] == "DENY"


def test_over_http_the_checks_keep_their_order(web: str, alice, greeter) -> None:  # type: ignore[no-untyped-def]
    import requests

    from workflows.webhooks import MAX_BODY_BYTES

    path = hook(greeter, alice, respond="accepted")
    too_big = b"x" * (MAX_BODY_BYTES + 1)
    wrong = path.rsplit("/", 1)[0] + "/wrong-token"
    assert requests.post(web + wrong, data=too_big, timeout=10).status_code == 404  # the token comes first
    refused = requests.get(web + path, timeout=10)
    assert (refused.status_code, refused.headers["Allow"]) == (405, "POST")
    assert requests.post(web + path, data=too_big, timeout=10).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the cap is counted as the body arrives
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b"y" * 65536

    assert requests.post(web + path, data=chunks(), timeout=10).status_code == 413
    too_many = requests.post(web + path, data={f"f{n}": "x" for n in range(1001)}, timeout=10)
    assert too_many.status_code == 400, too_many.text  # DATA_UPLOAD_MAX_NUMBER_FIELDS, as Django answers
    assert not WorkflowExecution.objects.exists()
    accepted = requests.post(web + path, data={"name": "Ada"}, timeout=10)
    assert accepted.status_code == 202
    assert WorkflowExecution.objects.get().inputs["name"] == "Ada"


# --- The settings API ----------------------------------------------------------------------------


def as_user(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def test_the_webhook_api_shows_the_url_only_once(alice, greeter) -> None:  # type: ignore[no-untyped-def]
    api = as_user(alice)
    url = f"/api/v1/workflows/{greeter.pk}/webhook"
    assert api.get(url).status_code == 404  # none yet
    created = api.put(url, {"methods": ["POST"], "respond": "accepted"}, content_type="application/json")
    assert created.status_code == 201
    token = created.json()["token"]
    assert created.json()["url"] == f"http://testserver/hooks/{greeter.pk}/{token}"

    read = api.get(url).json()
    assert "token" not in read
    assert "url" not in read
    assert token not in json.dumps(read)
    assert read["token_prefix"] == token[: len(read["token_prefix"])]
    assert read["enabled"] is True

    changed = api.put(url, {"timeout_seconds": 5, "respond": "sync"}, content_type="application/json")
    assert changed.status_code == 200
    assert "token" not in changed.json()
    assert (changed.json()["timeout_seconds"], changed.json()["respond"]) == (5, "sync")

    rotated = api.post(url + "/rotate")
    assert rotated.status_code == 200
    assert rotated.json()["token"] != token
    assert rotated.json()["url"].endswith(rotated.json()["token"])

    assert api.delete(url).status_code == 204
    assert api.get(url).json()["enabled"] is False
    off = api.put(url, {"enabled": False, "methods": ["GET"]}, content_type="application/json")
    assert (off.status_code, off.json()["enabled"], off.json()["methods"]) == (200, False, ["GET"])


def test_the_webhook_api_names_bad_fields(alice, project, greeter) -> None:  # type: ignore[no-untyped-def]
    api = as_user(alice)
    url = f"/api/v1/workflows/{greeter.pk}/webhook"
    bad = api.put(url, {"methods": ["FETCH"], "signature_credential": "NOPE"}, content_type="application/json")
    assert bad.status_code == 400
    assert set(bad.json()["errors"]) == {"methods", "signature_credential"}
    zero = api.put(url, {"timeout_seconds": 0}, content_type="application/json")
    assert zero.json()["errors"].keys() == {"timeout_seconds"}
    assert not Webhook.objects.exists()


@pytest.mark.parametrize(
    ("who", "read", "write"),
    [("alice", 200, 200), ("bob", 200, 200), ("viewer", 200, 403), ("charlie", 404, 404)],
)
def test_webhook_api_access(request, who, read, write, alice, greeter, viewer) -> None:  # type: ignore[no-untyped-def]
    triggers.webhook_enable(workflow=greeter, actor=alice)
    api = as_user(request.getfixturevalue(who))
    url = f"/api/v1/workflows/{greeter.pk}/webhook"
    assert api.get(url).status_code == read
    # A viewer's invalid write is a 403 too: permission is checked before the body.
    body = {"methods": ["BAD"]} if write == 403 else {}
    assert api.put(url, body, content_type="application/json").status_code == write
    assert api.post(url + "/rotate").status_code == write
    assert api.delete(url).status_code == (204 if write == 200 else write)
    assert Client().get(url).status_code == 401


def test_webhook_api_keys(alice, project, greeter) -> None:  # type: ignore[no-untyped-def]
    from tests.factories import make_project

    triggers.webhook_enable(workflow=greeter, actor=alice)
    url = f"/api/v1/workflows/{greeter.pk}/webhook"
    _key, secret = account_services.api_key_create(project=project, actor=alice)
    assert Client().get(url, headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    elsewhere = make_project(owner=alice, name="Elsewhere")
    _key, other = account_services.api_key_create(project=elsewhere, actor=alice)
    assert Client().get(url, headers={"Authorization": f"Bearer {other}"}).status_code == 404
    _key, publishable = account_services.api_key_create(project=project, actor=alice, kind="publishable")
    assert Client().get(url, headers={"x-synchronise-public-key": publishable}).status_code == 401


def test_the_trigger_endpoints_are_in_the_schema(client: Client) -> None:
    paths = client.get("/api/schema/?format=json").json()["paths"]
    assert set(paths["/api/v1/workflows/{id}/webhook"]) == {"get", "put", "delete"}
    assert set(paths["/api/v1/workflows/{id}/webhook/rotate"]) == {"post"}
    assert set(paths["/api/v1/workflows/{id}/schedule"]) == {"get", "put", "delete"}
    assert not any(path.startswith("/hooks/") for path in paths)  # called by other servers, documented in docs/
