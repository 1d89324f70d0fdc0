"""A component run never stays ``running``: deep JSON from a component or a remote API fails it with
125, a crash of ours fails it with 124, and the repair loop fails the runs whose worker was lost."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from components import credentials, services
from components.models import Execution, Status
from components.runs import run_execute, run_repair, run_start
from synchronise.lib import jsonlimits
from tests import fake_api
from tests.factories import make_component

pytestmark = pytest.mark.django_db

DEEP = 600  # deep enough to break a recursive walk in a worker, well under Python's parser limit


@pytest.fixture
def api(settings, monkeypatch) -> Iterator[fake_api.FakeApi]:  # type: ignore[no-untyped-def]
    fake_api.loopback_only(monkeypatch)
    with fake_api.serve() as server:
        settings.OUTBOUND_ALLOW = [server.destination]
        yield server


def run(component: Any, capture: Any) -> Execution:
    with capture():
        execution = run_start(component=component, inputs={})
    run_execute(execution.pk)
    execution.refresh_from_db()
    return execution


def test_a_code_component_returning_deep_json_fails_with_125(project, alice, django_capture_on_commit_callbacks):
    credentials.credential_set(project=project, actor=alice, name="TOKEN", value="s3cret-value")  # masking runs
    code = f"def run(inputs, ctx):\n    v = []\n    for _ in range({DEEP}):\n        v = [v]\n    return {{'x': v}}\n"
    component = make_component(project=project, actor=alice, code=code, outputs=[{"name": "x", "type": "json"}])

    execution = run(component, django_capture_on_commit_callbacks)

    assert execution.status == Status.FAILED
    assert execution.error["code"] == 125, execution.error
    assert execution.error["limit"] == jsonlimits.MAX_DEPTH
    assert execution.finished_at is not None


def test_an_http_component_whose_api_answers_deep_json_fails_with_125(
    project, alice, api, django_capture_on_commit_callbacks
):
    credentials.credential_set(project=project, actor=alice, name="TOKEN", value="s3cret-value")
    deep = "[" * DEEP + "]" * DEEP  # the stand-in API echoes it back inside its answer
    component = services.component_create(
        project=project,
        actor=alice,
        name="Deep",
        kind="http",
        outputs=[{"name": "x", "type": "json"}],
        http={
            "method": "POST",
            "url": api.url("/echo"),
            "body": {"type": "raw", "content_type": "application/json", "value": deep},
            "outputs": {"x": "body.json"},
        },
    )
    services.component_publish(component=component, actor=alice)

    execution = run(component, django_capture_on_commit_callbacks)

    assert api.requests, "the request was not sent"
    assert execution.status == Status.FAILED
    assert execution.error["code"] == 125, execution.error
    assert "nested deeper than 64 levels" in execution.error["message"]


def test_the_repair_loop_fails_runs_whose_worker_was_lost(project, alice):
    from workflows.tasks import tick

    component = make_component(project=project, actor=alice)
    now = timezone.now()

    def running(**fields: Any) -> Execution:
        return Execution.objects.create(project=project, component=component, status=Status.RUNNING, **fields)

    lost = running(started_at=now - timedelta(seconds=90), lease_expires_at=now - timedelta(seconds=1))
    alive = running(started_at=now - timedelta(seconds=90), lease_expires_at=now + timedelta(seconds=60))
    unleased = running(started_at=now - timedelta(hours=2))  # claimed before leases existed
    queued = Execution.objects.create(project=project, component=component)

    tick()  # the repair loop beat runs every second

    for execution in (lost, unleased):
        execution.refresh_from_db()
        assert execution.status == Status.FAILED
        assert execution.error["code"] == 124
        assert "worker" in execution.error["message"]
        assert execution.finished_at is not None
    alive.refresh_from_db()
    queued.refresh_from_db()
    assert alive.status == Status.RUNNING
    assert queued.status == Status.QUEUED
    assert run_repair() == 0  # nothing left to repair


def test_a_worker_that_finishes_after_the_repair_does_not_overwrite_it(
    project, alice, django_capture_on_commit_callbacks
):
    component = make_component(project=project, actor=alice, code="def run(inputs, ctx):\n    return {}\n")
    with django_capture_on_commit_callbacks():
        execution = run_start(component=component, inputs={})
    run_execute(execution.pk)
    execution.refresh_from_db()
    assert execution.status == Status.SUCCEEDED
    assert execution.lease_expires_at is not None  # claimed with a lease
    assert execution.lease_expires_at > execution.started_at
    # A run the repair loop already failed keeps that outcome when its worker comes back.
    Execution.objects.filter(pk=execution.pk).update(status=Status.RUNNING, lease_expires_at=timezone.now())
    assert run_repair(now=timezone.now() + timedelta(seconds=1)) == 1
    from components.runs import _finish

    execution.refresh_from_db()
    _finish(execution, status=Status.SUCCEEDED, outputs={"late": True})
    execution.refresh_from_db()
    assert execution.status == Status.FAILED
    assert execution.outputs == {}


@pytest.mark.django_db(transaction=True)
@pytest.mark.services
def test_a_run_whose_worker_is_killed_is_failed_by_the_repair_loop(alice, project):
    """A real worker, SIGKILLed while it runs a component; beat's repair loop on a second worker
    fails the run once its lease (wall time + 2 x outbound timeout + grace: 2 + 2 + 1 s) expires."""
    from tests import servers

    code = "import time\n\ndef run(inputs, ctx):\n    time.sleep(30)\n    return {}\n"
    component = make_component(project=project, actor=alice, code=code)
    env = {"SANDBOX_WALL_SECONDS": "2", "OUTBOUND_TIMEOUT": "1", "WORKFLOW_LEASE_GRACE_SECONDS": "1"}
    with servers.celery_worker(name="doomed", **env) as doomed:
        execution = run_start(component=component, inputs={})
        deadline = time.monotonic() + 60
        while Execution.objects.get(pk=execution.pk).status != Status.RUNNING:
            assert time.monotonic() < deadline, "no worker took the run"
            time.sleep(0.05)
        os.killpg(doomed.pid, signal.SIGKILL)  # the whole worker: main process and its child
        doomed.wait(10)
    execution.refresh_from_db()
    assert execution.status == Status.RUNNING  # nobody finished it: its worker is gone
    with servers.celery_beat(**env), servers.celery_worker(name="survivor", **env):
        deadline = time.monotonic() + 60
        while not Execution.objects.get(pk=execution.pk).is_finished:
            assert time.monotonic() < deadline, "the repair loop never failed the run"
            time.sleep(0.1)
    execution.refresh_from_db()
    assert execution.status == Status.FAILED
    assert execution.error == {"code": 124, "message": "the worker running this execution was lost"}
    assert execution.finished_at >= execution.lease_expires_at
