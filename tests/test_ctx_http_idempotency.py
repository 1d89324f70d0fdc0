"""``ctx.http`` sends ``Idempotency-Key`` as ``http`` components do: the step's key (the same on
every attempt), ``execution-<id>`` for a direct run; a component's own header wins, an empty one
sends none. Real worker processes, a real sandbox and a loopback stand-in for the receiver."""

from __future__ import annotations

import os
import signal
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from synchronise_client import Synchronise

from accounts import services as account_services
from components.models import Execution
from tests import fake_api, servers
from tests.factories import make_component, make_workflow
from workflows import engine, runs, tasks
from workflows.models import Status, StepRun, StepStatus

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]

# The first call is refused (503): the code then "hangs" until its worker is killed; the re-run's
# call is answered and the step succeeds. The code never names an Idempotency-Key itself.
HANGS_ONCE = """
import time

def run(inputs, ctx):
    answer = ctx.http("POST", inputs["url"], json={"charge": 10})
    if answer.status != 200:
        time.sleep(60)
    return {"count": answer.json()["count"]}
"""

HEADERS = """
def run(inputs, ctx):
    def sent(headers):
        echoed = ctx.http("POST", inputs["url"], headers=headers).json()["headers"]
        return {k.lower(): v for k, v in echoed.items()}.get("idempotency-key", "(none)")
    return {
        "default": sent(None),
        "own": sent({"idempotency-key": "mine-1"}),
        "none": sent({"Idempotency-Key": None}),
        "empty": sent({"Idempotency-Key": ""}),
        "ctx": ctx.idempotency_key,
    }
"""


def wait_until(condition, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, what
        time.sleep(0.05)
    return found


def test_an_interrupted_step_sends_the_same_key_on_its_re_run(alice, project) -> None:  # type: ignore[no-untyped-def]
    with fake_api.serve() as receiver:
        hangs = make_component(
            project=project,
            actor=alice,
            name="Charge",
            code=HANGS_ONCE,
            inputs=[{"name": "url", "type": "text"}],
            outputs=[{"name": "count", "type": "number", "subtype": "integer"}],
        )
        url = receiver.url("/flaky/charge?fail=1")
        workflow = make_workflow(
            project=project,
            actor=alice,
            steps=[{"id": "charge", "component": hangs.pk, "inputs": {"url": url}, "timeout": 30}],
            outputs=[{"name": "count", "value": "{{ steps.charge.output.count }}"}],
        )
        env = {"OUTBOUND_ALLOW": receiver.destination}
        with servers.celery_worker(name="doomed", **env) as doomed:
            execution = runs.execution_start(workflow=workflow, inputs={}, user=alice)
            wait_until(lambda: receiver.requests, 60, "the step never called the receiver")
            os.killpg(doomed.pid, signal.SIGKILL)  # mid-step, after its call: the worker is lost
            doomed.wait(10)
        first = StepRun.objects.get(execution=execution, step="charge", attempt=1)
        assert first.status == StepStatus.RUNNING
        # Its lease runs out (30 s + grace): played here by expiring it, as the tick then sees it.
        StepRun.objects.filter(pk=first.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
        with servers.celery_worker(name="survivor", **env):
            report = engine.tick()  # what the periodic workflows.tick does: reclaim, then send
            assert report.reclaimed == 1
            for step_run_id in report.dispatch:
                tasks.run_step.delay(step_run_id)
            finished = runs.execution_wait(execution, timeout=60)

    assert finished.status == Status.SUCCEEDED, finished.error
    assert finished.outputs == {"count": 2}
    retried = StepRun.objects.get(execution=execution, step="charge", attempt=2)
    assert retried.idempotency_key == first.idempotency_key == f"wf{execution.pk}-charge-0"
    keys = [request["headers"].get("Idempotency-Key") for request in receiver.requests]
    assert keys == [first.idempotency_key, first.idempotency_key]  # both calls: one key to deduplicate on


def test_a_direct_run_sends_execution_id_and_a_component_may_override_or_disable_it(alice, project) -> None:  # type: ignore[no-untyped-def]
    with fake_api.serve() as receiver:
        component = make_component(
            project=project,
            actor=alice,
            name="Headers",
            code=HEADERS,
            inputs=[{"name": "url", "type": "text"}],
            outputs=[{"name": name, "type": "text"} for name in ("default", "own", "none", "empty", "ctx")],
        )
        _key, secret = account_services.api_key_create(project=project, actor=alice)
        env = {"OUTBOUND_ALLOW": receiver.destination}
        with servers.asgi_server(**env) as base_url, servers.celery_worker(**env):
            outputs = Synchronise(secret, base_url=base_url).components.run(component.pk, {"url": receiver.url()})

    execution = Execution.objects.get(component=component)
    key = f"execution-{execution.pk}"
    assert outputs == {"default": key, "own": "mine-1", "none": "(none)", "empty": "(none)", "ctx": key}
