"""A synchronous run (``POST …/run`` without ``async``) waits up to 120 s for its end; the waiting
request must not keep a database connection, or a few slow runs starve every other request of the
web process (its pool has ``DATABASE_POOL_SIZE`` connections on PostgreSQL). Real processes: the
ASGI server with a pool of two, one Celery worker, and a loopback API that answers slowly."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from accounts import services as account_services
from components import services
from components.models import Execution
from tests import fake_api, servers
from tests.factories import make_workflow
from workflows.models import WorkflowExecution

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]

POOL_SIZE = 2
SLOW_RUNS = POOL_SIZE + 2  # more waiting requests than the web has connections
WAIT_SECONDS = 15  # each run request waits this long (its remote call takes longer)
PROMPT_SECONDS = 6  # the other request, answered while they wait (a pool timeout is 10 s)


@pytest.fixture(scope="module")
def slow_api() -> Iterator[fake_api.FakeApi]:
    with fake_api.serve() as server:
        yield server


@pytest.fixture(scope="module")
def platform(django_db_setup, django_db_blocker, slow_api) -> Iterator[str]:
    with (
        django_db_blocker.unblock(),
        servers.asgi_server(OUTBOUND_ALLOW=slow_api.destination, DATABASE_POOL_SIZE=str(POOL_SIZE)) as url,
        servers.celery_worker(OUTBOUND_ALLOW=slow_api.destination),
    ):
        yield url


def post(url: str, body: dict[str, Any], *, key: str, public: bool = False, timeout: float = 60) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    headers.update({"x-synchronise-public-key": key} if public else {"Authorization": f"Bearer {key}"})
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def get(url: str, *, key: str, timeout: float) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            answer.read()
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture
def slow_component(alice, project, slow_api):
    component = services.component_create(
        project=project,
        actor=alice,
        name="Slow",
        kind="http",
        public=True,
        outputs=[{"name": "slow", "type": "bool"}],
        http={"url": slow_api.url("/slow") + f"?seconds={WAIT_SECONDS + 10}", "outputs": {"slow": "body.slow"}},
    )
    services.component_publish(component=component, actor=alice)
    return component


@pytest.fixture
def slow_workflow(alice, project, slow_component):
    return make_workflow(
        project=project,
        actor=alice,
        name="Slow flow",
        public=True,
        steps=[{"id": "wait", "component": slow_component.pk, "inputs": {}}],
    )


ROUTES = {
    "component API": lambda c, w: (f"/api/v1/components/{c.pk}/run", {}, False),
    "component legacy": lambda c, w: ("/component/run", {"id": c.pk}, True),
    "workflow API": lambda c, w: (f"/api/v1/workflows/{w.pk}/run", {}, False),
    "workflow legacy": lambda c, w: ("/workflow/run", {"id": w.pk}, True),
}


@pytest.mark.parametrize("route", list(ROUTES))
def test_slow_sync_runs_do_not_starve_other_requests(platform, alice, project, slow_component, slow_workflow, route):
    _secret_key, secret = account_services.api_key_create(project=project, actor=alice)
    _public_key, publishable = account_services.api_key_create(project=project, actor=alice, kind="publishable")
    path, body, legacy = ROUTES[route](slow_component, slow_workflow)
    runs = WorkflowExecution.objects if route.startswith("workflow") else Execution.objects
    answers: list[tuple[int, Any]] = []

    def run_one() -> None:
        answers.append(
            post(f"{platform}{path}?timeout={WAIT_SECONDS}", body, key=publishable if legacy else secret, public=legacy)
        )

    threads = [threading.Thread(target=run_one) for _ in range(SLOW_RUNS)]
    for thread in threads:
        thread.start()
    # Every run is recorded: none waits for a connection that another waiting request holds.
    deadline = time.monotonic() + PROMPT_SECONDS
    while runs.count() < SLOW_RUNS and time.monotonic() < deadline:
        time.sleep(0.1)
    assert runs.count() == SLOW_RUNS

    # While all of them wait, another request of the same process is answered promptly.
    started = time.monotonic()
    assert get(f"{platform}/api/v1/executions/?limit=1", key=secret, timeout=PROMPT_SECONDS) == 200
    assert time.monotonic() - started < PROMPT_SECONDS
    assert all(thread.is_alive() for thread in threads)  # they were still waiting meanwhile

    for thread in threads:
        thread.join(WAIT_SECONDS + 30)
    # Each waited its full time, then answered 202 with the run still going (the original route: a
    # failure, 500 with 126, as its clients know only sync runs; docs/legacy-clients.md).
    assert [status for status, _body in answers] == [500 if legacy else 202] * SLOW_RUNS, answers
    if legacy:
        assert all(body["code"] == 126 for _status, body in answers), answers
