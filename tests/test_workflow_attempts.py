"""Attempts of a step, in this process (no broker): how long a lease lasts, when a failure is
retried and after how long. The engine runs each step for real (the sandbox, the SSRF-guarded
client against a loopback stand-in); the worker's death is played by expiring its lease."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts import services as account_services
from components import services as component_services
from tests import fake_api
from tests.factories import make_component, make_workflow
from workflows import engine, runs
from workflows.definition import Retry
from workflows.models import StepRun, StepStatus

pytestmark = pytest.mark.django_db

FAILS_503 = "def run(inputs, ctx):\n    raise ComponentError('busy', 503)\n"


@pytest.fixture
def third_party(settings) -> Iterator[fake_api.FakeApi]:  # type: ignore[no-untyped-def]
    with fake_api.serve() as server:
        settings.OUTBOUND_ALLOW = [server.destination]
        yield server


def started(workflow: Any, alice: Any) -> StepRun:
    """The execution's first step run, leased to this process as a worker would take it."""
    execution = runs.execution_start(workflow=workflow, inputs={}, user=alice)
    following = engine.advance(execution.pk, claim=True)
    assert following.claimed is not None
    return following.claimed


def lease_seconds(row: StepRun) -> float:
    row.refresh_from_db()
    assert row.lease_expires_at is not None
    assert row.started_at is not None
    return (row.lease_expires_at - row.started_at).total_seconds()


# --- Retry delays ----------------------------------------------------------------------------


def test_the_delay_backs_off_with_jitter_and_is_capped_and_retry_after_is_honoured() -> None:
    policy = Retry(attempts=10, backoff=2.0, factor=3.0, max_delay=30.0, jitter=True)
    for tried, full in ((1, 2.0), (2, 6.0), (3, 18.0), (4, 30.0), (7, 30.0)):  # capped from the 4th on
        delays = [engine.retry_delay(policy, tried, {}) for _ in range(200)]
        assert all(full / 2 <= delay <= full for delay in delays), (tried, min(delays), max(delays))
        assert max(delays) - min(delays) > full / 10  # spread out, not one value
    steady = Retry(attempts=10, backoff=2.0, factor=3.0, max_delay=30.0, jitter=False)
    assert [engine.retry_delay(steady, tried, {}) for tried in (1, 2, 3, 4)] == [2.0, 6.0, 18.0, 30.0]
    assert engine.retry_delay(steady, 1, {"retry_after": 12}) == 12.0  # later than the backoff: waited for
    assert engine.retry_delay(steady, 3, {"retry_after": 12}) == 18.0  # sooner: the backoff stands
    assert engine.retry_delay(steady, 1, {"retry_after": 3600}) == 30.0  # never beyond max_delay
    assert engine.retry_delay(steady, 1, {"retry_after": True}) == 2.0  # not a number of seconds


def test_a_code_step_may_pass_on_a_retry_after(alice, project) -> None:  # type: ignore[no-untyped-def]
    code = "def run(inputs, ctx):\n    raise ComponentError('slow down', 429, retry_after=40)\n"
    limited = make_component(project=project, actor=alice, name="Limited", code=code)
    retry = {"attempts": 2, "backoff": 1, "max_delay": 60, "jitter": False, "on_codes": [429]}
    workflow = make_workflow(
        project=project, actor=alice, steps=[{"id": "call", "component": limited.pk, "inputs": {}, "retry": retry}]
    )
    first = started(workflow, alice)
    engine.run_claimed(first)
    first.refresh_from_db()
    assert first.error == {"code": 429, "message": "slow down", "retry_after": 40.0}
    second = StepRun.objects.get(execution=first.execution, attempt=2)
    assert second.status == StepStatus.WAITING
    assert second.next_attempt_at is not None
    assert (second.next_attempt_at - first.finished_at).total_seconds() == pytest.approx(40, abs=2)


# --- A lost worker does not use up the retry budget --------------------------------------------


def test_an_interrupted_attempt_does_not_count_against_the_retry_policy(alice, project) -> None:  # type: ignore[no-untyped-def]
    busy = make_component(project=project, actor=alice, name="Busy", code=FAILS_503)
    retry = {"attempts": 2, "backoff": 0, "jitter": False, "on_codes": [503]}
    workflow = make_workflow(
        project=project, actor=alice, steps=[{"id": "call", "component": busy.pk, "inputs": {}, "retry": retry}]
    )
    first = started(workflow, alice)
    StepRun.objects.filter(pk=first.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))  # it died
    report = engine.tick()
    assert report.reclaimed == 1
    second = StepRun.objects.get(execution=first.execution, attempt=2)
    assert (second.status, second.interruptions, second.idempotency_key) == ("queued", 1, first.idempotency_key)
    engine.run_step(second.pk)  # answers 503: the first attempt that ran, so one more is due
    second.refresh_from_db()
    assert (second.status, second.error["code"]) == ("failed", 503)
    third = StepRun.objects.get(execution=first.execution, attempt=3)
    assert (third.status, third.interruptions) == ("queued", 1)
    engine.run_step(third.pk)  # the second answered attempt: the policy's two are used up
    assert not StepRun.objects.filter(execution=first.execution, attempt=4).exists()
    first.execution.refresh_from_db()
    assert (first.execution.status, first.execution.error["code"]) == ("failed", 503)


# --- Leases last as long as a step may run ------------------------------------------------------


def test_a_code_steps_lease_follows_the_plans_wall_time_and_the_steps_timeout(alice, project, settings) -> None:  # type: ignore[no-untyped-def]
    from accounts.models import Plan

    settings.WORKFLOW_LEASE_GRACE_SECONDS = 10
    plan = Plan.objects.create(name="Long runs", slug="long-runs", monthly_quota=-1, run_wall_seconds=120)
    account_services.user_set_plan(user=alice, plan=plan)
    engine.forget_cached()
    quick = make_component(project=project, actor=alice, name="Quick")
    long_run = make_workflow(project=project, actor=alice, steps=[{"id": "a", "component": quick.pk, "inputs": {}}])
    assert lease_seconds(started(long_run, alice)) == pytest.approx(130, abs=1)  # not the 20 s default
    short = make_workflow(
        project=project, actor=alice, name="Short", steps=[{"id": "a", "component": quick.pk, "timeout": 3}]
    )
    assert lease_seconds(started(short, alice)) == pytest.approx(13, abs=1)


def test_an_http_step_is_cut_at_its_timeout_well_within_its_lease(alice, project, third_party, settings) -> None:  # type: ignore[no-untyped-def]
    settings.WORKFLOW_LEASE_GRACE_SECONDS = 10
    slow = component_services.component_create(
        project=project,
        actor=alice,
        name="Slow API",
        kind="http",
        outputs=[{"name": "slow", "type": "bool"}],
        http={"method": "GET", "url": third_party.url("/slow?seconds=5"), "outputs": {"slow": "body.slow"}},
    )
    component_services.component_publish(component=slow, actor=alice)
    workflow = make_workflow(
        project=project, actor=alice, steps=[{"id": "call", "component": slow.pk, "inputs": {}, "timeout": 1}]
    )
    row = started(workflow, alice)
    assert lease_seconds(row) == pytest.approx(11, abs=1)  # the timeout, not OUTBOUND_TIMEOUT (20 s)
    clock = time.monotonic()
    engine.run_claimed(row)
    assert time.monotonic() - clock < 3
    row.refresh_from_db()
    assert (row.status, row.error["code"]) == (StepStatus.TIMED_OUT, 109)
    assert row.error["message"] == "wall-time limit of 1 s exceeded"


def test_a_timed_out_http_request_is_retried_by_default(alice, project, third_party) -> None:  # type: ignore[no-untyped-def]
    """109 is in the default ``on_codes``: a remote that did not answer in time may answer next time."""
    slow = component_services.component_create(
        project=project,
        actor=alice,
        name="Slow API",
        kind="http",
        outputs=[{"name": "slow", "type": "bool"}],
        http={"method": "GET", "url": third_party.url("/slow?seconds=5"), "outputs": {"slow": "body.slow"}},
    )
    component_services.component_publish(component=slow, actor=alice)
    retry = {"attempts": 2, "backoff": 0, "jitter": False}  # on_codes: the defaults
    step = {"id": "call", "component": slow.pk, "inputs": {}, "timeout": 1, "retry": retry}
    first = started(make_workflow(project=project, actor=alice, steps=[step]), alice)
    engine.run_claimed(first)
    first.refresh_from_db()
    assert (first.status, first.error["code"], first.error["reason"]) == (StepStatus.TIMED_OUT, 109, "timeout")
    second = StepRun.objects.get(execution=first.execution, attempt=2)
    assert second.status == "queued"


def test_ctx_http_calls_end_with_the_runs_wall_time(alice, project, third_party) -> None:  # type: ignore[no-untyped-def]
    code = f"def run(inputs, ctx):\n    ctx.http('GET', {third_party.url('/slow?seconds=5')!r})\n    return {{}}\n"
    waits = make_component(project=project, actor=alice, name="Waits", code=code)
    workflow = make_workflow(
        project=project, actor=alice, steps=[{"id": "call", "component": waits.pk, "inputs": {}, "timeout": 1}]
    )
    row = started(workflow, alice)
    clock = time.monotonic()
    engine.run_claimed(row)
    assert time.monotonic() - clock < 3  # not the 5 s the server takes, nor OUTBOUND_TIMEOUT
    row.refresh_from_db()
    # Timed out, whether the sandbox's timer or the call cut at the wall time ended it first.
    assert row.status == StepStatus.TIMED_OUT, row.error
    assert row.error["code"] == 109, row.error
