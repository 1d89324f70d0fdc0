"""Crash safety: a worker killed with SIGKILL in the middle of a 20-step workflow. The execution
still finishes on the other worker; completed steps are not run again; the interrupted step is
retried with the same idempotency key, so each step's side effect happens once per key."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

import pytest

from tests import fake_api, servers
from tests.factories import make_component, make_workflow
from workflows import runs
from workflows.definition import WORKER_LOST
from workflows.models import Status, StepRun, StepStatus

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]

EFFECT = """
import time

def run(inputs, ctx):
    ctx.http("POST", inputs["url"], headers={"Idempotency-Key": ctx.idempotency_key}, json={"n": inputs["n"]})
    time.sleep(0.3)
    return {"n": inputs["n"] + 1}
"""
STEPS = 20


def test_a_killed_worker_loses_no_step_and_repeats_no_side_effect(alice, project) -> None:  # type: ignore[no-untyped-def]
    with fake_api.serve() as third_party:
        effect = make_component(
            project=project,
            actor=alice,
            name="Effect",
            code=EFFECT,
            inputs=[{"name": "url", "type": "text"}, {"name": "n", "type": "number", "subtype": "integer"}],
            outputs=[{"name": "n", "type": "number", "subtype": "integer"}],
        )
        url = third_party.url("/echo")
        steps = [{"id": "s1", "component": effect.pk, "inputs": {"url": url, "n": 0}, "timeout": 2}]
        for index in range(2, STEPS + 1):
            previous = f"{{{{ steps.s{index - 1}.output.n }}}}"
            steps.append(
                {"id": f"s{index}", "component": effect.pk, "inputs": {"url": url, "n": previous}, "timeout": 2}
            )
        workflow = make_workflow(
            project=project,
            actor=alice,
            steps=steps,
            outputs=[{"name": "n", "value": f"{{{{ steps.s{STEPS}.output.n }}}}"}],
        )
        env = {"OUTBOUND_ALLOW": third_party.destination, "WORKFLOW_LEASE_GRACE_SECONDS": "2"}
        with (
            servers.celery_beat(**env),
            servers.celery_worker(name="doomed", **env) as doomed,
            servers.celery_worker(name="survivor", **env) as survivor,
        ):
            execution = runs.execution_start(workflow=workflow, inputs={}, user=alice)
            deadline = time.monotonic() + 60
            victim = None
            while victim is None:
                assert time.monotonic() < deadline, "the workflow never got going"
                running = StepRun.objects.filter(execution=execution, status=StepStatus.RUNNING).first()
                done = StepRun.objects.filter(execution=execution, status=StepStatus.SUCCEEDED).count()
                if running is not None and done >= 5:
                    pid = int(running.lease_owner.rsplit(":", 1)[1])  # the worker running the chain
                    victim = doomed if os.getpgid(pid) == doomed.pid else survivor
                time.sleep(0.02)
            os.killpg(victim.pid, signal.SIGKILL)  # the whole worker: main process and its child
            victim.wait(10)
            finished = runs.execution_wait(execution, timeout=60)

    assert finished.status == Status.SUCCEEDED, finished.error
    assert finished.outputs == {"n": STEPS}
    rows = list(StepRun.objects.filter(execution=execution))
    succeeded = Counter(row.step for row in rows if row.status == StepStatus.SUCCEEDED)
    assert succeeded == Counter({f"s{i}": 1 for i in range(1, STEPS + 1)})  # each step completed exactly once
    lost = [row for row in rows if row.status == StepStatus.FAILED]
    assert [row.error["code"] for row in lost] == [WORKER_LOST]  # the step running when it died
    interrupted = lost[0]
    retried = next(r for r in rows if r.step == interrupted.step and r.status == StepStatus.SUCCEEDED)
    assert retried.attempt == 2
    assert retried.idempotency_key == interrupted.idempotency_key
    keys = Counter(request["headers"]["Idempotency-Key"] for request in third_party.requests)
    expected = {row.idempotency_key for row in rows if row.status == StepStatus.SUCCEEDED}
    assert set(keys) == expected  # one key per step: a receiver de-duplicating by key applies each once
    repeated = {key for key, count in keys.items() if count > 1}
    assert repeated <= {interrupted.idempotency_key}  # only the interrupted step may have called twice
