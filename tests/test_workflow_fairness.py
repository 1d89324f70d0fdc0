"""One worker, a long chain and a short workflow: the chain runs inline without broker hops, but
gives the worker up when other work waits, so the short workflow is not starved."""

from __future__ import annotations

import time

import pytest

from tests import servers
from tests.factories import make_component, make_workflow
from workflows import runs
from workflows.models import Status

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]

NAP = "import time\n\ndef run(inputs, ctx):\n    time.sleep(0.1)\n    return {'n': inputs['n'] + 1}\n"
INTEGER = {"type": "number", "subtype": "integer"}


def test_a_long_chain_does_not_starve_a_short_workflow(alice, project) -> None:  # type: ignore[no-untyped-def]
    nap = make_component(
        project=project, actor=alice, code=NAP, inputs=[{"name": "n", **INTEGER}], outputs=[{"name": "n", **INTEGER}]
    )
    chain = [{"id": "s0", "component": nap.pk, "inputs": {"n": 0}}]
    chain += [
        {"id": f"s{i}", "component": nap.pk, "inputs": {"n": f"{{{{ steps.s{i - 1}.output.n }}}}"}}
        for i in range(1, 30)
    ]
    long = make_workflow(project=project, actor=alice, name="Long", steps=chain)
    short = make_workflow(project=project, actor=alice, name="Short", steps=chain[:1])
    with servers.celery_worker(beat=True, name="only"):
        slow = runs.execution_start(workflow=long, inputs={}, user=alice)
        time.sleep(1.0)  # the chain is running inline by now
        quick = runs.execution_wait(runs.execution_start(workflow=short, inputs={}, user=alice), timeout=30)
        slow = runs.execution_wait(slow, timeout=60)
    assert quick.status == slow.status == Status.SUCCEEDED
    assert quick.finished_at < slow.finished_at  # it did not wait for the 3-second chain to end
    assert (slow.finished_at - quick.finished_at).total_seconds() > 0.5
