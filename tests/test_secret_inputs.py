"""Naming a credential is an editor's act (``components.callers``), over the real routes.

A public component and a public workflow both take a destination URL and a ``secret`` input whose
default is ``SAFE_TOKEN``; the project also has ``ADMIN_TOKEN``, which no caller should be able to
send where they like. The ASGI server and a real Celery worker run them; a loopback API stands in
for the destination and records what reaches it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.test import Client

from accounts import services as account_services
from accounts.models import Membership, Permission, User
from components import credentials
from components.callers import EDITOR_WRITTEN_TRIGGERS, may_name_credentials, require_may_name_credentials
from components.errors import RunError
from components.models import Execution
from tests import fake_api, servers
from tests.factories import make_component, make_project, make_workflow
from tests.marketplace_setup import make_validator
from workflows import definition as definitions
from workflows import runs, triggers
from workflows import services as workflow_services
from workflows.models import Trigger, WorkflowExecution, WorkflowVersion

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]

SAFE = "safe-token-value-1"
ADMIN = "admin-token-value-2"
SENDER = (
    "def run(inputs, ctx):\n"
    "    answer = ctx.http('POST', inputs['url'], json={'note': 'hi'}, headers={'X-Token': inputs['token']})\n"
    "    return {'status': answer.status}\n"
)
INPUTS = [
    {"name": "url", "type": "text", "subtype": "url"},
    {"name": "token", "type": "secret", "default": "SAFE_TOKEN"},  # coerced to {{ secrets.SAFE_TOKEN }}
]
CSRF = "c" * 32


@pytest.fixture(scope="module")
def third_party() -> Iterator[fake_api.FakeApi]:
    with fake_api.serve() as server:
        yield server


@pytest.fixture(scope="module")
def platform(django_db_setup, django_db_blocker, third_party) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with (
        django_db_blocker.unblock(),
        servers.asgi_server(OUTBOUND_ALLOW=third_party.destination) as url,
        servers.celery_worker(name="secret-inputs", OUTBOUND_ALLOW=third_party.destination),
    ):
        yield url


@pytest.fixture(autouse=True)
def _settled(platform: str) -> Iterator[None]:
    """Wait for what a test started, so the database is not flushed under the worker's feet."""
    yield
    for execution in WorkflowExecution.objects.active():
        runs.execution_wait(execution, timeout=30)


@pytest.fixture
def sender(alice, project):  # type: ignore[no-untyped-def]
    credentials.credential_set(project=project, actor=alice, name="SAFE_TOKEN", value=SAFE)
    credentials.credential_set(project=project, actor=alice, name="ADMIN_TOKEN", value=ADMIN)
    return make_component(
        project=project,
        actor=alice,
        name="Sender",
        code=SENDER,
        inputs=INPUTS,
        outputs=[{"name": "status", "type": "number"}],
        public=True,
    )


@pytest.fixture
def flow(alice, project, sender):  # type: ignore[no-untyped-def]
    """A public workflow with the same interface, passing its inputs to the component."""
    return make_workflow(
        project=project,
        actor=alice,
        name="Send",
        inputs=INPUTS,
        steps=[
            {"id": "send", "component": sender.pk, "inputs": {"url": "{{ input.url }}", "token": "{{ input.token }}"}}
        ],
        outputs=[{"name": "status", "type": "number", "value": "{{ steps.send.output.status }}"}],
        public=True,
    )


def signed_in(user: User) -> requests.Session:
    """A browser session of ``user`` on the server (session cookie and CSRF token)."""
    client = Client()
    client.force_login(user)
    session = requests.Session()
    session.cookies.set(settings.SESSION_COOKIE_NAME, client.cookies[settings.SESSION_COOKIE_NAME].value)
    session.cookies.set(settings.CSRF_COOKIE_NAME, CSRF)
    session.headers["X-CSRFToken"] = CSRF
    return session


def bearer(key: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"
    return session


def publishable(project: Any, alice: User) -> requests.Session:
    _key, raw = account_services.api_key_create(project=project, actor=alice, kind="publishable")
    session = requests.Session()
    session.headers["x-synchronise-public-key"] = raw
    return session


def secret_key(project: Any, user: User) -> str:
    return account_services.api_key_create(project=project, actor=user)[1]


class Counts:
    """What a refused call must leave as it was: runs recorded, requests counted, requests sent."""

    def __init__(self, alice: User, third_party: fake_api.FakeApi) -> None:
        self.alice, self.third_party = alice, third_party
        self.before = self.now()

    def now(self) -> tuple[int, int, int, int]:
        return (
            Execution.objects.count(),
            WorkflowExecution.objects.count(),
            account_services.usage_of(user=self.alice).used,
            len(self.third_party.requests),
        )

    def unchanged(self) -> bool:
        return self.now() == self.before


def assert_refused(response: requests.Response) -> None:
    original = urlsplit(response.url).path in ("/component/run", "/workflow/run")
    assert response.status_code == (500 if original else 403), response.text  # the original's 500
    body = response.json()
    assert (body["code"], body["not_allowed"]) == (105, ["token"]), body
    assert "token" in body["message"]
    assert ADMIN not in response.text


def token_sent(third_party: fake_api.FakeApi) -> str:
    return str(third_party.requests[-1]["headers"]["X-Token"])


# --- components ---------------------------------------------------------------------------


def test_an_editor_and_a_secret_key_may_name_a_credential(platform, third_party, alice, bob, project, sender):
    url = third_party.url("/echo")
    callers = {
        "alice's secret key": (bearer(secret_key(project, alice)), f"{platform}/api/v1/components/{sender.pk}/run"),
        "bob's session": (signed_in(bob), f"{platform}/api/v1/components/{sender.pk}/run"),
        "bob's key, original route": (bearer(secret_key(project, bob)), f"{platform}/component/run"),
    }
    for name, (session, route) in callers.items():
        body = {"url": url, "token": "ADMIN_TOKEN"}
        if route.endswith("/component/run"):
            body["id"] = sender.pk
        answer = session.post(route, json=body, timeout=30)
        assert answer.status_code == 200, (name, answer.text)
        outputs = answer.json() if route.endswith("/component/run") else answer.json()["outputs"]
        assert outputs == {"status": 200}, name
        assert token_sent(third_party) == ADMIN, name
        assert ADMIN not in answer.text


def test_callers_who_may_not_edit_cannot_name_a_credential(platform, third_party, alice, bob, viewer, project, sender):
    """Publishable key (both routes), viewer, validator, and a key whose maker is now a viewer: 105,
    nothing recorded, counted or sent. Written any way, the name is refused."""
    url = third_party.url("/echo")
    key = publishable(project, alice)
    demoted_key = bearer(secret_key(project, bob))
    Membership.objects.filter(project=project, user=bob).update(permission=Permission.VIEW)
    run = f"{platform}/api/v1/components/{sender.pk}/run"
    attempts = [
        ("publishable, original route", key, f"{platform}/component/run", {"id": sender.pk}),
        ("publishable, API", key, run, {}),
        ("viewer", signed_in(viewer), run, {}),
        ("validator", signed_in(make_validator()), run, {}),
        ("secret key of a demoted maker", demoted_key, run, {}),
    ]
    counts = Counts(alice, third_party)
    for name, session, route, extra in attempts:
        for token in ("ADMIN_TOKEN", "{{ secrets.ADMIN_TOKEN }}", "{{secrets.ADMIN_TOKEN}}"):
            answer = session.post(route, json={**extra, "url": url, "token": token}, timeout=30)
            assert_refused(answer)
        assert counts.unchanged(), name


def test_the_default_credential_still_works_for_them(platform, third_party, alice, viewer, project, sender):
    url = third_party.url("/echo")
    key = publishable(project, alice)
    for token in (None, "SAFE_TOKEN", "{{ secrets.SAFE_TOKEN }}"):  # left out, or the default itself
        body = {"id": sender.pk, "url": url, **({"token": token} if token else {})}
        answer = key.post(f"{platform}/component/run", json=body, timeout=30)
        assert answer.status_code == 200, answer.text
        assert token_sent(third_party) == SAFE
    answer = signed_in(viewer).post(f"{platform}/api/v1/components/{sender.pk}/run", json={"url": url}, timeout=30)
    assert answer.json()["outputs"] == {"status": 200}, answer.text
    assert token_sent(third_party) == SAFE
    execution = Execution.objects.latest("pk")
    assert execution.inputs["token"] == "{{ secrets.SAFE_TOKEN }}"  # the name, never the value


# --- workflows ----------------------------------------------------------------------------


def test_an_editor_and_a_secret_key_may_name_a_credential_for_a_workflow(
    platform, third_party, alice, bob, project, flow
):
    url = third_party.url("/echo")
    for session in (bearer(secret_key(project, alice)), signed_in(bob)):
        answer = session.post(
            f"{platform}/api/v1/workflows/{flow.pk}/run", json={"url": url, "token": "ADMIN_TOKEN"}, timeout=30
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "succeeded", answer.text
        assert token_sent(third_party) == ADMIN
    legacy = bearer(secret_key(project, bob)).post(
        f"{platform}/workflow/run", json={"id": flow.pk, "url": url, "token": "ADMIN_TOKEN"}, timeout=30
    )
    assert legacy.status_code == 200, legacy.text
    assert token_sent(third_party) == ADMIN


def test_a_workflows_callers_who_may_not_edit_cannot_name_a_credential(
    platform, third_party, alice, viewer, project, flow
):
    url = third_party.url("/echo")
    _webhook, token = triggers.webhook_enable(workflow=flow, actor=alice)
    hook = f"{platform}{triggers.webhook_path(flow.pk, token or '')}"
    key = publishable(project, alice)
    run = f"{platform}/api/v1/workflows/{flow.pk}/run"
    attempts = [
        ("publishable, original route", key, f"{platform}/workflow/run", {"id": flow.pk}),
        ("publishable, API", key, run, {}),
        ("viewer", signed_in(viewer), run, {}),
        ("webhook", requests.Session(), hook, {}),
    ]
    counts = Counts(alice, third_party)
    for name, session, route, extra in attempts:
        answer = session.post(route, json={**extra, "url": url, "token": "ADMIN_TOKEN"}, timeout=30)
        assert_refused(answer)
        assert counts.unchanged(), name

    # The default credential still works for each of them.
    for name, session, route, extra in attempts:
        answer = session.post(route, json={**extra, "url": url}, timeout=30)
        assert answer.status_code == 200, (name, answer.text)
        assert token_sent(third_party) == SAFE, name
    assert WorkflowExecution.objects.filter(workflow=flow, status="succeeded").count() == len(attempts)


def test_a_schedule_written_by_an_editor_still_names_its_credential(third_party, alice, project, flow):
    triggers.schedule_set(
        workflow=flow, actor=alice, cron="* * * * *", inputs={"url": third_party.url("/echo"), "token": "ADMIN_TOKEN"}
    )
    execution = triggers.schedule_fire(workflow_id=flow.pk)
    assert execution is not None
    execution = runs.execution_wait(execution, timeout=30)
    assert execution.status == "succeeded", execution.error
    assert token_sent(third_party) == ADMIN


def leaky_definition(sender: Any) -> dict[str, Any]:
    """The binding the rule refuses: the sender's credential taken from a text input, which a
    webhook's body fills (``ADMIN_TOKEN`` as text passes the workflow's coercion, then the step's
    coercion makes it ``{{ secrets.ADMIN_TOKEN }}``)."""
    return definitions.clean(
        {
            "inputs": [{"name": "url", "type": "text", "subtype": "url"}, {"name": "token", "type": "text"}],
            "steps": [
                {
                    "id": "send",
                    "component": sender.pk,
                    "inputs": {"url": "{{ input.url }}", "token": "{{ input.token }}"},
                }
            ],
        }
    )


LEAK = "send.inputs.token: token names a credential"


def test_a_webhook_body_field_cannot_reach_a_secret_input(platform, third_party, alice, project, sender):
    """Refused when saved; a version published before the rule is refused when the webhook starts it."""
    url = third_party.url("/echo")
    old = leaky_definition(sender)
    leaky = make_workflow(
        project=project, actor=alice, name="Leaky", publish=False, inputs=old["inputs"], steps=old["steps"]
    )
    assert [(p["step"], p["field"]) for p in leaky.problems] == [("send", "inputs.token")]
    with pytest.raises(ValidationError, match=re.escape(LEAK)):
        workflow_services.workflow_publish(workflow=leaky, actor=alice)

    WorkflowVersion.objects.create(workflow=leaky, number=1, definition=old, created_by=alice)
    _webhook, token = triggers.webhook_enable(workflow=leaky, actor=alice)
    hook = f"{platform}{triggers.webhook_path(leaky.pk, token or '')}"
    counts = Counts(alice, third_party)
    answer = requests.post(hook, json={"url": url, "token": "ADMIN_TOKEN"}, timeout=30)
    assert answer.status_code == 403, answer.text
    assert answer.json()["code"] == 105
    assert LEAK in answer.json()["message"]
    assert counts.unchanged()


def test_a_plan_made_before_the_rule_does_not_send_a_credential_chosen_by_data(third_party, alice, project, sender):
    """A replay or restart runs its source's plan as it was; the engine looks again before the step runs."""
    leaky = make_workflow(
        project=project,
        actor=alice,
        name="Leaky",
        inputs=[{"name": "url", "type": "text", "subtype": "url"}],
        steps=[{"id": "send", "component": sender.pk, "inputs": {"url": "{{ input.url }}"}}],
    )
    plan = leaky_definition(sender)
    plan["steps"][0]["version_id"] = sender.versions.get().pk
    sent = len(third_party.requests)
    execution = runs.execution_start(
        workflow=leaky,
        inputs={"url": third_party.url("/echo"), "token": "ADMIN_TOKEN"},
        trigger=Trigger.REPLAY,
        user=alice,
        plan=plan,
    )
    execution = runs.execution_wait(execution, timeout=30)
    assert execution.status == "failed"
    step = execution.step_runs.get(step="send")
    assert step.error["code"] == 105
    assert LEAK in step.error["message"]
    assert len(third_party.requests) == sent


# --- the rule itself ----------------------------------------------------------------------


def test_who_may_name_a_credential(alice, bob, charlie, viewer, project):
    key, _ = account_services.api_key_create(project=project, actor=bob)
    pub, _ = account_services.api_key_create(project=project, actor=bob, kind="publishable")
    other, _ = account_services.api_key_create(project=make_project(owner=charlie, name="Elsewhere"), actor=charlie)
    allowed = {
        "owner": (alice, None, "api"),
        "editor": (bob, None, "api"),
        "secret key": (bob, key, "api"),
        "schedule": (None, None, "schedule"),
    }
    refused = {
        "viewer": (viewer, None, "api"),
        "outsider": (charlie, None, "api"),
        "another project's key": (charlie, other, "api"),
        "publishable key": (None, pub, "legacy"),
        "webhook": (None, None, "webhook"),
        "superadmin, not a member": (alice, None, "api"),
    }
    assert {Trigger.SCHEDULE} == EDITOR_WRITTEN_TRIGGERS  # spelled out in components, which cannot import workflows
    elsewhere = make_project(owner=charlie, name="Charlie's")  # Alice is the installation's superuser
    assert alice.is_superuser
    for name, (user, api_key, trigger) in allowed.items():
        assert may_name_credentials(project=project, user=user, api_key=api_key, trigger=trigger), name
    for name, (user, api_key, trigger) in refused.items():
        where = elsewhere if name.startswith("superadmin") else project
        assert not may_name_credentials(project=where, user=user, api_key=api_key, trigger=trigger), name

    specs = [
        {"name": "keys", "type": "list", "subtype": "secret", "default": ["{{ secrets.A }}"]},
        {"name": "other", "type": "secret", "optional": True},
        {"name": "text", "type": "text"},
    ]

    def check(inputs: dict[str, Any]) -> None:
        require_may_name_credentials(project=project, specs=specs, inputs=inputs, user=None, api_key=pub, trigger="api")

    check({"keys": ["A"], "other": None, "text": "x"})  # the default (coerced alike), and nothing
    with pytest.raises(RunError) as refusal:
        check({"keys": ["A", "B"], "other": "C"})
    assert (refusal.value.code, refusal.value.extra["not_allowed"]) == (105, ["keys", "other"])
