"""A fork is its project's component: it runs with the forker's credentials and counts against the
forker's plan, never the author's — through the real sandbox and a real loopback API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from accounts import services as account_services
from accounts.models import Plan
from components import credentials, errors
from components.errors import RunError
from components.marketplace import services
from components.runs import run_execute, run_start
from tests import fake_api
from tests.factories import make_component, make_project
from tests.fake_api import FakeApi
from tests.marketplace_setup import make_validator, submit

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def tripwire(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    return fake_api.loopback_only(monkeypatch)


@pytest.fixture
def api(settings) -> Iterator[FakeApi]:  # type: ignore[no-untyped-def]
    with fake_api.serve() as server:
        settings.OUTBOUND_ALLOW = [server.destination]
        yield server


def caller_code(url: str) -> str:
    return (
        "def run(inputs, ctx):\n"
        f"    answer = ctx.http('GET', {url!r}, headers={{'Authorization': 'Bearer {{{{ secrets.API_TOKEN }}}}'}})\n"
        "    return {'status': answer.status}\n"
    )


@pytest.fixture
def setup(alice, charlie, project, api):  # type: ignore[no-untyped-def]
    """Alice lists a component that calls an API with the project's API_TOKEN; Charlie forks it."""
    credentials.credential_set(project=project, actor=alice, name="API_TOKEN", value="alice-token-1111")
    original = make_component(
        project=project, actor=alice, name="Caller", code=caller_code(api.url("/echo")),
        outputs=[{"name": "status", "type": "number"}],
    )  # fmt: skip
    listing = services.listing_approve(submission=submit(original, alice, closed_source=True), actor=make_validator())
    mine = make_project(owner=charlie, name="Charlie's")
    credentials.credential_set(project=mine, actor=charlie, name="API_TOKEN", value="charlie-token-2222")
    fork, _ = services.component_fork(listing=listing, project=mine, actor=charlie)
    return original, fork


def run(component, capture):  # type: ignore[no-untyped-def]
    with capture():  # this test is the worker
        execution = run_start(component=component, inputs={})
    run_execute(execution.pk)
    execution.refresh_from_db()
    return execution


def test_a_fork_runs_with_the_forkers_credentials(setup, api, django_capture_on_commit_callbacks):
    original, fork = setup
    execution = run(fork, django_capture_on_commit_callbacks)
    assert (execution.status, execution.outputs) == ("succeeded", {"status": 200})
    assert api.requests[-1]["headers"]["Authorization"] == "Bearer charlie-token-2222"
    run(original, django_capture_on_commit_callbacks)
    assert api.requests[-1]["headers"]["Authorization"] == "Bearer alice-token-1111"


def test_a_fork_counts_against_the_forkers_quota(setup, alice, charlie, django_capture_on_commit_callbacks):
    _original, fork = setup
    run(fork, django_capture_on_commit_callbacks)
    assert account_services.usage_of(user=charlie).used == 1
    assert account_services.usage_of(user=alice).used == 0

    plan = Plan.objects.create(name="Tiny", slug="tiny", monthly_quota=1)
    account_services.user_set_plan(user=charlie, plan=plan)
    with pytest.raises(RunError) as refused, django_capture_on_commit_callbacks():
        run_start(component=fork, inputs={})
    assert refused.value.code == errors.QUOTA_EXCEEDED
    assert account_services.usage_of(user=alice).used == 0  # the author's plan is never touched
