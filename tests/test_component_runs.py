"""Runs end to end: the ASGI server, a real Celery worker, a loopback API standing in for a third party,
and the Python client package."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from synchronise_client import Synchronise, SynchroniseError

from accounts import services as account_services
from components import credentials, services
from components.models import Execution
from tests import fake_api, servers

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]


@pytest.fixture(scope="module")
def third_party() -> Iterator[fake_api.FakeApi]:
    with fake_api.serve() as server:
        yield server


@pytest.fixture(scope="module")
def platform(django_db_setup, django_db_blocker, third_party) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The web server and one worker, both allowed to reach the stand-in API (and nothing else private)."""
    with (
        django_db_blocker.unblock(),
        servers.asgi_server(OUTBOUND_ALLOW=third_party.destination) as url,
        servers.celery_worker(OUTBOUND_ALLOW=third_party.destination),
    ):
        yield url


@pytest.fixture
def weather(alice, project, third_party):  # type: ignore[no-untyped-def]
    """An http component: GET the stand-in API with a credential in a header, map the answer."""
    credentials.credential_set(project=project, actor=alice, name="WEATHER_TOKEN", value="tok-super-secret")
    component = services.component_create(
        project=project,
        actor=alice,
        name="Weather",
        kind="http",
        inputs=[{"name": "city", "type": "text"}],
        outputs=[{"name": "method", "type": "text"}, {"name": "city", "type": "text"}],
        http={
            "method": "GET",
            "url": third_party.url("/echo"),
            "query": {"q": "{{ inputs.city }}"},
            "headers": {"Authorization": "Bearer {{ secrets.WEATHER_TOKEN }}"},
            "outputs": {"method": "body.method", "city": "body.query.q"},
        },
    )
    services.component_publish(component=component, actor=alice, changelog="first")
    return component


def test_a_secret_key_runs_an_http_component_through_a_worker(platform, alice, project, weather, third_party):
    _key, secret = account_services.api_key_create(project=project, actor=alice)
    client = Synchronise(secret, base_url=platform)

    assert client.components.run(weather.pk, {"city": "Lyon"}) == {"method": "GET", "city": "Lyon"}

    sent = third_party.requests[-1]
    assert sent["headers"]["Authorization"] == "Bearer tok-super-secret"  # substituted by the host
    assert sent["headers"]["Idempotency-Key"].startswith("execution-")
    execution = Execution.objects.get(component=weather)
    assert execution.status == "succeeded"
    assert execution.duration_ms is not None
    assert "tok-super-secret" not in str(execution.inputs) + str(execution.outputs) + str(execution.logs)
    assert project.usage.get().count == 1  # counted against the plan


def test_async_run_then_wait(platform, alice, project, weather):
    _key, secret = account_services.api_key_create(project=project, actor=alice)
    client = Synchronise(secret, base_url=platform)
    started = client.components.run_async(weather.pk, {"city": "Oslo"})
    assert started["status"] == "queued"
    finished = client.executions.wait(started["id"], timeout=20)
    assert finished["outputs"] == {"method": "GET", "city": "Oslo"}


def test_errors_come_back_typed(platform, alice, project, weather, third_party):
    _key, secret = account_services.api_key_create(project=project, actor=alice)
    client = Synchronise(secret, base_url=platform)
    with pytest.raises(SynchroniseError) as missing:
        client.components.run(weather.pk, {})
    assert missing.value.code == 102
    assert missing.value.status == 400

    services.component_update(
        component=weather, actor=alice, http={**weather.http, "url": third_party.url("/status/503")}
    )
    services.component_publish(component=weather, actor=alice)
    with pytest.raises(SynchroniseError) as remote:
        client.components.run(weather.pk, {"city": "Lyon"})
    assert remote.value.body["status"] == 503


def test_the_original_route_with_a_publishable_key(platform, alice, project, weather):
    import requests

    services.component_update(component=weather, actor=alice, public=True)
    _key, publishable = account_services.api_key_create(project=project, actor=alice, kind="publishable")
    response = requests.post(
        f"{platform}/component/run",
        json={"id": weather.pk, "city": "Porto"},
        headers={"x-synchronise-public-key": publishable},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"method": "GET", "city": "Porto"}  # the outputs object itself


def test_a_private_destination_is_refused_in_the_worker(platform, alice, project):
    component = services.component_create(
        project=project,
        actor=alice,
        name="Metadata",
        kind="http",
        outputs=[{"name": "body", "type": "json", "optional": True}],
        http={"method": "GET", "url": "http://169.254.169.254/latest/meta-data/", "outputs": {"body": "body"}},
    )
    services.component_publish(component=component, actor=alice)
    _key, secret = account_services.api_key_create(project=project, actor=alice)
    with pytest.raises(SynchroniseError) as blocked:
        Synchronise(secret, base_url=platform).components.run(component.pk, {})
    assert blocked.value.code == 502
    assert Execution.objects.get(component=component).status == "failed"


def test_code_calls_an_api_with_a_credential_it_never_sees(platform, alice, project, third_party):
    credentials.credential_set(project=project, actor=alice, name="API_TOKEN", value="tok-never-in-sandbox")
    code = (
        "def run(inputs, ctx):\n"
        f"    answer = ctx.http('GET', '{third_party.url('/echo')}', params={{'n': inputs['n']}},\n"
        "                      headers={'Authorization': 'Bearer {{ secrets.API_TOKEN }}'})\n"
        "    seen = answer.json()['headers']['Authorization']\n"
        "    ctx.progress(1, 'called the API')\n"
        "    ctx.log('called', answer.status)\n"
        "    if inputs['n'] < 0:\n"
        "        raise ComponentError('n must not be negative', 201)\n"
        "    return {'status': answer.status, 'seen': seen}\n"
    )
    component = services.component_create(
        project=project, actor=alice, name="Caller", code=code,
        inputs=[{"name": "n", "type": "number", "subtype": "integer"}],
        outputs=[{"name": "status", "type": "number"}, {"name": "seen", "type": "text"}],
    )  # fmt: skip
    services.component_publish(component=component, actor=alice)
    _key, secret = account_services.api_key_create(project=project, actor=alice)
    client = Synchronise(secret, base_url=platform)

    outputs = client.components.run(component.pk, {"n": 3})
    assert third_party.requests[-1]["headers"]["Authorization"] == "Bearer tok-never-in-sandbox"
    # The echo came back masked: the code saw no plaintext, and none was stored.
    assert outputs["status"] == 200
    assert "tok-never-in-sandbox" not in outputs["seen"]
    execution = Execution.objects.filter(component=component).latest("created_at")
    assert execution.logs == ["[progress 1] called the API", "called 200"]

    with pytest.raises(SynchroniseError) as refused:
        client.components.run(component.pk, {"n": -1})
    assert refused.value.code == 201
    assert refused.value.status == 422
    assert refused.value.message == "n must not be negative"


def test_a_caller_cannot_make_a_public_component_send_a_credential_it_does_not_name(
    platform, alice, project, third_party
):
    """A public component forwards a caller's message. Whatever shape the caller gives a
    ``{{ secrets.… }}`` reference (JSON escapes, or text the code turns into one), the host does not
    substitute a credential the component does not name; one passed through a ``secret`` input is,
    for a caller who may edit the project (a secret key), not for the publishable key."""
    import requests

    credentials.credential_set(project=project, actor=alice, name="STRIPE_KEY", value="sk-live-not-for-callers")
    code = (
        "def run(inputs, ctx):\n"
        "    message = str(inputs['payload']['m']).replace('((', '{{')\n"
        "    headers = {'X-Key': inputs['key']} if inputs.get('key') else {}\n"
        "    try:\n"
        f"        answer = ctx.http('POST', {third_party.url('/echo')!r}, json={{'m': message}}, headers=headers)\n"
        "    except ConnectionError as error:\n"
        "        return {'status': 0, 'error': str(error)}\n"
        "    return {'status': answer.status, 'error': ''}\n"
    )
    component = services.component_create(
        project=project, actor=alice, name="Forwarder", code=code, public=True,
        inputs=[
            {"name": "payload", "type": "json", "subtype": "object"},
            {"name": "key", "type": "secret", "optional": True},
        ],
        outputs=[{"name": "status", "type": "number"}, {"name": "error", "type": "text"}],
    )  # fmt: skip
    services.component_publish(component=component, actor=alice)
    _key, publishable = account_services.api_key_create(project=project, actor=alice, kind="publishable")

    def run(payload: str, **inputs: str) -> requests.Response:
        return requests.post(
            f"{platform}/component/run",
            json={"id": component.pk, "payload": payload, **inputs},
            headers={"x-synchronise-public-key": publishable},
            timeout=30,
        )

    escaped = run('{"m": "\\u007b\\u007b secrets.STRIPE_KEY }}"}')
    assert escaped.status_code == 500, escaped.text  # the original route: every failure is 500
    assert escaped.json()["code"] == 101

    built = run('{"m": "(( secrets.STRIPE_KEY }}"}')
    assert built.status_code == 200, built.text
    assert built.json() == {
        "status": 0,
        "error": "credential STRIPE_KEY is not named by this component: write {{ secrets.STRIPE_KEY }} "
        "in its code or pass it through an input of type secret",
    }

    # Naming a credential is an editor's act: a publishable key may not pass a secret input at all
    # (tests/test_secret_inputs.py), so nothing is recorded and nothing is sent.
    sent_before, runs_before = len(third_party.requests), Execution.objects.filter(component=component).count()
    named = run('{"m": "hello"}', key="STRIPE_KEY")
    assert (named.status_code, named.json()["code"]) == (500, 105), named.text
    assert Execution.objects.filter(component=component).count() == runs_before
    assert len(third_party.requests) == sent_before

    _key, secret = account_services.api_key_create(project=project, actor=alice)
    by_editor = requests.post(
        f"{platform}/api/v1/components/{component.pk}/run",
        json={"payload": {"m": "hello"}, "key": "STRIPE_KEY"},
        headers={"Authorization": f"Bearer {secret}"},
        timeout=30,
    )
    assert by_editor.json()["outputs"] == {"status": 200, "error": ""}, by_editor.text
    assert third_party.requests[-1]["headers"]["X-Key"] == "sk-live-not-for-callers"
    assert not any("sk-live" in request["body"] for request in third_party.requests)


def test_the_plans_limits_apply_and_a_timeout_is_recorded(platform, alice, project):
    from accounts.models import Plan

    plan = Plan.objects.create(name="Short", slug="short", monthly_quota=-1, run_wall_seconds=1)
    account_services.user_set_plan(user=alice, plan=plan)
    component = services.component_create(
        project=project, actor=alice, name="Spin", code="def run(inputs, ctx):\n    while True:\n        pass\n"
    )
    services.component_publish(component=component, actor=alice)
    _key, secret = account_services.api_key_create(project=project, actor=alice)
    with pytest.raises(SynchroniseError) as timed_out:
        Synchronise(secret, base_url=platform).components.run(component.pk, {}, timeout=20)
    assert timed_out.value.code == 109
    assert timed_out.value.status == 504
    execution = Execution.objects.get(component=component)
    assert execution.status == "timed_out"
    assert execution.duration_ms < 5000  # the plan's 1 s, not the default 20 s


def test_the_plans_response_size_limit_fails_a_run_in_the_worker(platform, alice, project, third_party):
    from accounts.models import Plan

    url = third_party.url("/big?bytes=5000")
    code = f"def run(inputs, ctx):\n    return {{'size': len(ctx.http('GET', {url!r}).content)}}\n"
    component = services.component_create(project=project, actor=alice, name="Download", code=code)
    services.component_publish(component=component, actor=alice)
    _key, secret = account_services.api_key_create(project=project, actor=alice)
    client = Synchronise(secret, base_url=platform)
    assert client.components.run(component.pk, {}) == {"size": 5000}  # the default plan: 10 MB

    plan = Plan.objects.create(name="Small", slug="small", monthly_quota=-1, run_response_bytes=1000)
    account_services.user_set_plan(user=alice, plan=plan)
    with pytest.raises(SynchroniseError) as too_large:
        client.components.run(component.pk, {}, timeout=20)
    assert too_large.value.code == 115
    assert too_large.value.status == 422
    assert too_large.value.body["limit"] == 1000
    assert "response size limit of 1000 bytes exceeded" in too_large.value.message
    execution = Execution.objects.filter(component=component).latest("created_at")
    assert execution.status == "failed"
    assert execution.error["code"] == 115
