"""A plan's output, log and HTTP response size limits, on real runs: ``run_start`` in this process,
``run_execute`` as the worker calls it, the real sandbox pool and a real loopback API.
The same runs through the web server and a Celery worker are in tests/test_component_runs.py."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings

from accounts import services as account_services
from accounts.models import Plan, Project, User
from components import services
from components.code_runner import limits_for, response_bytes_for
from components.models import Component, Execution
from components.runs import run_execute, run_start
from tests import fake_api
from tests.factories import make_user
from tests.fake_api import FakeApi


@pytest.fixture(autouse=True)
def tripwire(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    return fake_api.loopback_only(monkeypatch)


@pytest.fixture
def api(settings) -> Iterator[FakeApi]:  # type: ignore[no-untyped-def]
    with fake_api.serve() as server:
        settings.OUTBOUND_ALLOW = [server.destination]
        yield server


def give_plan(user: User, **limits: int) -> Plan:
    plan = Plan.objects.create(name="Small", slug="small", monthly_quota=-1, **limits)
    account_services.user_set_plan(user=user, plan=plan)
    return plan


def make_code(project: Project, actor: User, code: str, **fields: Any) -> Component:
    component = services.component_create(project=project, actor=actor, name="Limited", code=code, **fields)
    services.component_publish(component=component, actor=actor)
    return component


def run(component: Component, capture: Callable[..., Any], inputs: dict[str, Any] | None = None) -> Execution:
    """Start a run as the API does, then execute it as the worker does; the finished Execution."""
    with capture():  # the enqueue is not sent: this test is the worker
        execution = run_start(component=component, inputs=inputs or {})
    run_execute(execution.pk)
    execution.refresh_from_db()
    return execution


# --- How the plan becomes limits ------------------------------------------------------------------


def test_the_plans_fields_become_the_runs_limits(db, alice, project):
    defaults = limits_for(project)
    assert (defaults.output_bytes, defaults.log_bytes) == (settings.SANDBOX_OUTPUT_BYTES, settings.SANDBOX_LOG_BYTES)
    assert response_bytes_for(project) == settings.OUTBOUND_MAX_BYTES

    give_plan(alice, run_output_bytes=1000, run_log_bytes=500, run_response_bytes=2000, run_http_calls=3)
    limits = limits_for(project)
    assert (limits.output_bytes, limits.log_bytes, limits.http_calls) == (1000, 500, 3)
    assert limits.wall_seconds == settings.SANDBOX_WALL_SECONDS  # not set on the plan: the setting
    assert response_bytes_for(project) == 2000


def test_it_uses_the_owners_plan_not_the_editors(db, alice, bob, project):
    give_plan(bob, run_output_bytes=1000)  # Bob edits Alice's project; Alice pays for its runs
    assert limits_for(project).output_bytes == settings.SANDBOX_OUTPUT_BYTES


# --- Output size (112) -----------------------------------------------------------------------------

BIG_OUTPUT = "def run(inputs, ctx):\n    return {'text': 'x' * 2000}\n"


def test_outputs_over_the_plans_limit_fail_the_run(db, alice, project, django_capture_on_commit_callbacks):
    component = make_code(project, alice, BIG_OUTPUT, outputs=[{"name": "text", "type": "text"}])
    assert run(component, django_capture_on_commit_callbacks).status == "succeeded"  # the default plan

    give_plan(alice, run_output_bytes=1000)
    execution = run(component, django_capture_on_commit_callbacks)
    assert execution.status == "failed"
    assert execution.error["code"] == 112
    assert "1000" in execution.error["message"]
    assert execution.outputs == {}


# --- Log size (113) --------------------------------------------------------------------------------

CHATTY = "def run(inputs, ctx):\n    for n in range(40):\n        ctx.log(f'line {n:02} ' + 'y' * 90)\n    return {}\n"


def test_logs_over_the_plans_limit_fail_the_run(db, alice, project, django_capture_on_commit_callbacks):
    component = make_code(project, alice, CHATTY)
    finished = run(component, django_capture_on_commit_callbacks)
    assert finished.status == "succeeded"
    assert len(finished.logs) == 40

    give_plan(alice, run_log_bytes=1000)
    execution = run(component, django_capture_on_commit_callbacks)
    assert execution.status == "failed"
    assert execution.error == {"code": 113, "message": "log limit of 1000 bytes exceeded"}
    # The lines that fit are kept, then the marker: the run stopped there.
    assert execution.logs[0].startswith("line 00 ")
    assert execution.logs[-1] == "[log limit of 1000 bytes reached: the run was stopped]"
    assert sum(len(line.encode()) for line in execution.logs[:-1]) <= 1000
    assert len(execution.logs) < 15


# --- HTTP response size: ctx.http (115) ------------------------------------------------------------


def fetcher(api: FakeApi, path: str, *, catch: bool = False) -> str:
    call = f"ctx.http('GET', {api.url(path)!r})"
    if catch:
        return (
            "def run(inputs, ctx):\n"
            "    try:\n"
            f"        return {{'size': len({call}.content)}}\n"
            "    except ConnectionError as error:\n"
            "        return {'size': -1, 'why': str(error)}\n"
        )
    return f"def run(inputs, ctx):\n    return {{'size': len({call}.content)}}\n"


def test_a_response_over_the_plans_limit_fails_a_code_run(db, alice, project, api, django_capture_on_commit_callbacks):
    component = make_code(project, alice, fetcher(api, "/big?bytes=5000"))
    finished = run(component, django_capture_on_commit_callbacks)
    assert finished.status == "succeeded"
    assert finished.outputs == {"size": 5000}

    give_plan(alice, run_response_bytes=1000)
    execution = run(component, django_capture_on_commit_callbacks)
    assert execution.status == "failed"
    assert execution.error["code"] == 115
    assert execution.error["limit"] == 1000
    assert execution.error["message"] == (
        "response size limit of 1000 bytes exceeded: the response is 5000 bytes; the limit is 1000"
    )
    assert 'File "<component>", line 2' in execution.error["traceback"]  # where the code called ctx.http


def test_a_body_without_length_is_cut_off_at_the_limit_without_waiting(
    db, alice, project, api, django_capture_on_commit_callbacks
):
    give_plan(alice, run_response_bytes=100_000)
    component = make_code(project, alice, fetcher(api, "/forever"))  # streams for 30 s unless abandoned
    started = time.monotonic()
    execution = run(component, django_capture_on_commit_callbacks)
    assert time.monotonic() - started < 10
    assert execution.status == "failed"
    assert execution.error["code"] == 115
    assert "larger than 100000 bytes" in execution.error["message"]


def test_code_may_handle_a_cut_off_response(db, alice, project, api, django_capture_on_commit_callbacks):
    give_plan(alice, run_response_bytes=1000)
    component = make_code(project, alice, fetcher(api, "/big?bytes=5000", catch=True))
    execution = run(component, django_capture_on_commit_callbacks)
    assert execution.status == "succeeded"
    assert execution.outputs["size"] == -1
    assert execution.outputs["why"].startswith("response size limit of 1000 bytes exceeded")


def test_another_connection_error_keeps_its_code(db, alice, project, api, django_capture_on_commit_callbacks):
    give_plan(alice, run_response_bytes=1000)
    component = make_code(
        project, alice, "def run(inputs, ctx):\n    raise ConnectionError('response size limit of 1000 bytes')\n"
    )
    execution = run(component, django_capture_on_commit_callbacks)
    assert execution.error["code"] == 120  # only a limit the host applied becomes 115


# --- HTTP response size: http components (502, reason too_large) -----------------------------------


def test_a_response_over_the_plans_limit_fails_an_http_component(
    db, alice, project, api, django_capture_on_commit_callbacks
):
    component = services.component_create(
        project=project,
        actor=alice,
        name="Download",
        kind="http",
        outputs=[{"name": "status", "type": "number"}],
        http={"method": "GET", "url": api.url("/big"), "query": {"bytes": "5000"}, "outputs": {"status": "status"}},
    )
    services.component_publish(component=component, actor=alice)
    assert run(component, django_capture_on_commit_callbacks).outputs == {"status": 200}

    give_plan(alice, run_response_bytes=1000)
    execution = run(component, django_capture_on_commit_callbacks)
    assert execution.status == "failed"
    assert execution.error["code"] == 502
    assert (execution.error["reason"], execution.error["limit"]) == ("too_large", 1000)
    assert execution.error["message"].startswith("response size limit of 1000 bytes exceeded")


# --- Superadmin ------------------------------------------------------------------------------------


def test_superadmin_edits_the_size_limits(client, alice):
    plan = Plan.objects.create(name="Team", slug="team")
    client.force_login(alice)  # the first user: superuser
    url = f"/superadmin/accounts/plan/{plan.pk}/change/"
    page = client.get(url).content.decode()
    for name in ("run_output_bytes", "run_log_bytes", "run_response_bytes"):
        assert f'name="{name}"' in page

    form = {"name": "Team", "slug": "team", "monthly_quota": "", "rate_limit": ""}
    refused = client.post(url, {**form, "run_output_bytes": "1"})
    assert refused.status_code == 200  # the form again, with the error: the sandbox needs at least 2
    plan.refresh_from_db()
    assert plan.run_output_bytes is None

    saved = client.post(url, {**form, "run_output_bytes": "5000", "run_log_bytes": "0", "run_response_bytes": "9"})
    assert saved.status_code == 302
    plan.refresh_from_db()
    assert (plan.run_output_bytes, plan.run_log_bytes, plan.run_response_bytes) == (5000, 0, 9)


def test_the_default_plan_has_no_size_limits_of_its_own(db):
    owner = make_user(email="dora@example.com")
    assert owner.effective_plan().run_response_bytes is None
