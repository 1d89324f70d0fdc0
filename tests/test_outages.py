"""Real outages: the ASGI server and a Celery worker against a Redis this test kills and restarts,
and against PostgreSQL through a proxy it severs and restores. While a service is down every
endpoint answers 503 with ``Retry-After`` and a JSON body (code ``service_unavailable``), nothing is
recorded or counted, and once it is back the same processes answer normally, without a restart."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from django.conf import settings
from django.db import connection

from accounts import services as account_services
from accounts.models import ProjectUsage
from components.models import Execution
from tests import outages, servers
from tests.factories import PASSWORD, make_component, make_workflow
from tests.outages import PrivateRedis, TcpProxy
from workflows import runs, triggers
from workflows.models import Status, WorkflowExecution

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]

ADD = "def run(inputs, ctx):\n    return {'n': inputs['n'] + 1}\n"
NUMBER = {"type": "number", "subtype": "integer"}


class Platform:
    """What the test calls: the server's URL, a signed-in browser session, a secret key, a
    component, a workflow and its webhook."""

    def __init__(self, base: str, alice: Any, project: Any) -> None:
        self.base = base
        self.project = project
        self.component = make_component(
            project=project,
            actor=alice,
            name="Add",
            code=ADD,
            inputs=[{"name": "n", **NUMBER}],
            outputs=[{"name": "n", **NUMBER}],
        )
        self.workflow = make_workflow(
            project=project,
            actor=alice,
            inputs=[{"name": "n", **NUMBER, "optional": True, "default": 1}],
            steps=[{"id": "add", "component": self.component.pk, "inputs": {"n": "{{ input.n }}"}}],
            outputs=[{"name": "n", "value": "{{ steps.add.output.n }}", **NUMBER}],
        )
        _hook, token = triggers.webhook_enable(workflow=self.workflow, actor=alice, respond="accepted")
        self.hook = f"/hooks/{self.workflow.pk}/{token}"
        _key, secret = account_services.api_key_create(project=project, actor=alice)
        self.api = requests.Session()
        self.api.headers["Authorization"] = f"Bearer {secret}"
        self.browser = requests.Session()

    def sign_in(self) -> None:
        self.browser.get(self.base + "/accounts/login/", timeout=30)
        answer = self.browser.post(
            self.base + "/accounts/login/",
            data={
                "login": "alice@example.com",
                "password": PASSWORD,
                "csrfmiddlewaretoken": self.browser.cookies["csrftoken"],
            },
            headers={"Referer": self.base + "/accounts/login/"},
            allow_redirects=False,
            timeout=30,
        )
        assert answer.status_code == 302, answer.text[:500]

    def calls(self) -> dict[str, Callable[[], requests.Response]]:
        """One call of each kind: a page, an API read, runs through each route, a webhook, health."""
        run = f"/api/v1/components/{self.component.pk}/run"
        return {
            "page": lambda: self.browser.get(self.base + "/dashboard/", allow_redirects=False, timeout=60),
            "api": lambda: self.api.get(self.base + "/api/v1/projects/", timeout=60),
            "run": lambda: self.api.post(self.base + run, json={"n": 1}, timeout=60),
            "legacy run": lambda: self.api.post(
                self.base + "/component/run", json={"id": self.component.pk, "n": 1}, timeout=60
            ),
            "workflow run": lambda: self.api.post(
                self.base + f"/api/v1/workflows/{self.workflow.pk}/run?async=1", json={"n": 1}, timeout=60
            ),
            "webhook": lambda: requests.post(self.base + self.hook, json={"n": 1}, timeout=60),
            "health": lambda: requests.get(self.base + "/healthz", timeout=60),
        }

    def recorded(self) -> tuple[int, int, int]:
        """Component executions, workflow executions, requests counted against the plan."""
        usage = sum(ProjectUsage.objects.filter(project=self.project).values_list("count", flat=True))
        return Execution.objects.count(), WorkflowExecution.objects.count(), usage


def assert_unavailable(platform: Platform, *, skip: tuple[str, ...] = ()) -> None:
    for name, call in platform.calls().items():
        if name in skip:
            continue
        answer = call()
        # The original route answers every failure 500, with the same body (docs/legacy-clients.md).
        expected = 500 if name == "legacy run" else 503
        assert answer.status_code == expected, (name, answer.status_code, answer.text[:300])
        assert int(answer.headers["Retry-After"]) > 0, name
        assert answer.headers["Content-Type"].startswith("application/json"), name
        body = answer.json()
        assert body["code"] == "service_unavailable", (name, body)
        assert body["message"], name


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def assert_working(platform: Platform, before: tuple[int, int, int]) -> None:
    """Everything answers again, runs run on the worker, and each is recorded and counted once."""
    calls = platform.calls()
    wait_until(lambda: calls["health"]().status_code == 200, 60, "/healthz never came back")
    assert calls["page"]().status_code == 200
    assert calls["api"]().status_code == 200
    hooked = calls["webhook"]()
    assert hooked.status_code == 202, hooked.text[:300]
    # Ended by the worker, which found its broker again by itself.
    execution = runs.execution_wait(WorkflowExecution.objects.get(pk=hooked.json()["execution_id"]), timeout=60)
    assert (execution.status, execution.outputs) == (Status.SUCCEEDED, {"n": 2})
    answer = calls["run"]()
    assert (answer.status_code, answer.json()["outputs"]) == (200, {"n": 2}), answer.text[:300]
    executions, workflow_executions, usage = before
    assert platform.recorded() == (executions + 1, workflow_executions + 1, usage + 2)  # one run, one webhook


@pytest.fixture
def private_dir() -> Path:
    directory = Path(settings.DATA_DIR) / f"outage-{time.monotonic_ns()}"  # goes with the run's data directory
    directory.mkdir(parents=True)
    return directory


def test_redis_down_answers_503_everywhere_records_nothing_and_recovers(alice, project, private_dir) -> None:  # type: ignore[no-untyped-def]
    """Production's topology: cache, sessions, throttles, channel layer and broker all on Redis."""
    private = PrivateRedis(private_dir)
    private.start()
    env = {"REDIS_URL": private.url}
    try:
        with servers.asgi_server(**env) as base, outages.celery_worker(name="outage", **env):
            platform = Platform(base, alice, project)
            platform.sign_in()
            assert platform.calls()["page"]().status_code == 200
            before = platform.recorded()

            private.kill()
            assert_unavailable(platform)
            assert platform.recorded() == before  # nothing recorded, nothing counted

            private.start()  # the same address, empty: what a restarted Redis without persistence is
            platform.sign_in()  # the sessions were in Redis
            assert_working(platform, before)
    finally:
        private.kill()


def test_redis_down_in_the_embedded_topology_takes_back_the_run_it_could_not_send(alice, project, private_dir) -> None:  # type: ignore[no-untyped-def]
    """The embedded default: Redis is only the broker and the channel layer (cache in memory,
    sessions in the database), so a run is recorded and counted before its task cannot be sent;
    it is taken back and answered 503 rather than left queued with nobody to send it."""
    private = PrivateRedis(private_dir, unix_socket=private_dir / "redis.sock")
    private.start()
    # Its own data directory (so its own embedded Redis socket); the test database and keys as ours.
    env = {"REDIS_URL": "", "SYNCHRONISE_DATA_DIR": str(private_dir), "SECRET_KEY": settings.SECRET_KEY}
    try:
        with servers.asgi_server(**env) as base, outages.celery_worker(name="embedded", **env):
            platform = Platform(base, alice, project)
            platform.sign_in()
            before = platform.recorded()

            private.kill()
            # Pages and reads need no Redis here; everything that starts a run does.
            calls = platform.calls()
            assert calls["page"]().status_code == 200
            assert calls["api"]().status_code == 200
            assert_unavailable(platform, skip=("page", "api"))
            assert platform.recorded() == before  # taken back: no row without its task, no count

            private.start()
            assert_working(platform, before)
    finally:
        private.kill()


def test_postgresql_down_answers_503_everywhere_records_nothing_and_recovers(alice, project) -> None:  # type: ignore[no-untyped-def]
    if connection.vendor != "postgresql":
        if os.environ.get("SYNCHRONISE_REQUIRE_SERVICES"):
            pytest.fail("PostgreSQL is expected (SYNCHRONISE_REQUIRE_SERVICES) but the run is on SQLite", pytrace=False)
        pytest.skip("a PostgreSQL outage needs PostgreSQL (set DATABASE_URL)")
    db = connection.settings_dict
    proxy = TcpProxy((db.get("HOST") or "127.0.0.1", int(db.get("PORT") or 5432)))
    proxy.restore()
    direct = servers.test_database_url()
    through_proxy = direct.replace(f":{db.get('PORT') or 5432}/", f":{proxy.port}/")
    assert through_proxy != direct
    try:
        # The web reaches PostgreSQL through the proxy, and waits 2 s for a connection when it is
        # gone (DATABASE_POOL_TIMEOUT); the worker has its own way in.
        web = {"DATABASE_URL": through_proxy, "DATABASE_POOL_TIMEOUT": "2"}
        with servers.asgi_server(**web) as base, servers.celery_worker(name="pg-outage"):
            platform = Platform(base, alice, project)
            platform.sign_in()
            assert platform.calls()["page"]().status_code == 200
            before = platform.recorded()

            proxy.sever()
            assert_unavailable(platform)
            assert platform.recorded() == before

            proxy.restore()
            assert_working(platform, before)
    finally:
        proxy.sever()
