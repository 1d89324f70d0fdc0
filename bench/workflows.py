"""Workflow engine benchmarks (issue 5): per-step cost of a sequential chain, fan-out makespan, and
webhook throughput, on this machine, loopback only.

    .venv/bin/python bench/workflows.py [--runs 5] [--database sqlite|postgres] [--only W1,W3,W4]

* W1 — 40 sequential steps, each ``fib(10)`` in a sandboxed code step, every result committed before
  the next step starts; one worker. Reports ms per step (execution wall time / 40).
* W3 — one workflow fanning out 400 x ``fib(10)`` with ``for_each`` and joining; two workers.
  Reports the makespan and the overhead per task (makespan x workers / 400).
* W4 — webhook → one transform step → JSON response, at concurrency 1/10/50 for ``--seconds`` each:
  executions/s, p50/p99 latency, errors, and a check that every execution was recorded.

Medians of ``--runs`` runs after a warm-up run. Everything runs on a throwaway data directory: the
embedded default (SQLite, embedded Redis) unless ``--database postgres`` (the local PostgreSQL and
Redis of CI, a throwaway database). Workers are real Celery workers (prefork, one process each), as
``make run`` starts them. The machine is shared and noisy: read medians and ratios.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FIB = """
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)

def run(inputs, ctx):
    return {"n": inputs["n"], "fib": fib(10)}
"""
W1_STEPS = 40
W3_ITEMS = 400


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def table_row(*cells: object) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


class Setup:
    """The owner, project and components every workload uses."""

    def __init__(self) -> None:
        from accounts import services as account_services
        from accounts.models import Plan
        from tests.factories import make_component, make_project, make_user

        self.owner = make_user(email="bench@example.com")
        account_services.user_set_plan(user=self.owner, plan=Plan.objects.get(slug="unlimited"))
        self.project = make_project(owner=self.owner, name="Bench")
        integer = {"type": "number", "subtype": "integer"}
        self.fib = make_component(
            project=self.project,
            actor=self.owner,
            name="Fib",
            code=FIB,
            inputs=[{"name": "n", **integer}],
            outputs=[{"name": "n", **integer}, {"name": "fib", **integer}],
        )

    def workflow(self, name: str, steps: list[dict[str, Any]], **extra: Any) -> Any:
        from tests.factories import make_workflow

        return make_workflow(project=self.project, actor=self.owner, name=name, steps=steps, **extra)


def timed_run(workflow: Any, owner: Any, inputs: dict[str, Any], timeout: float = 300) -> float:
    """Seconds from the start call until the execution is recorded as succeeded."""
    from workflows import runs
    from workflows.models import Status

    started = time.perf_counter()
    execution = runs.execution_start(workflow=workflow, inputs=inputs, user=owner)
    execution = runs.execution_wait(execution, timeout=timeout)
    elapsed = time.perf_counter() - started
    assert execution.status == Status.SUCCEEDED, (execution.status, execution.error)
    return elapsed


def w1(setup: Setup, runs_count: int, workers: Callable[[int], Any]) -> list[str]:
    steps = [{"id": "s0", "component": setup.fib.pk, "inputs": {"n": 0}}]
    for index in range(1, W1_STEPS):
        steps.append(
            {
                "id": f"s{index}",
                "component": setup.fib.pk,
                "inputs": {"n": f"{{{{ steps.s{index - 1}.output.n + 1 }}}}"},
            }
        )
    workflow = setup.workflow(
        "W1", steps, outputs=[{"name": "n", "value": f"{{{{ steps.s{W1_STEPS - 1}.output.n }}}}"}]
    )
    with workers(1):
        timed_run(workflow, setup.owner, {})  # warm-up
        per_step = [timed_run(workflow, setup.owner, {}) * 1000 / W1_STEPS for _ in range(runs_count)]
    return [
        table_row(
            f"W1: {W1_STEPS} sequential fib(10) code steps, 1 worker",
            f"{statistics.median(per_step):.2f} ms/step",
            f"min {min(per_step):.2f}, max {max(per_step):.2f}",
            "target ≤ 3 ms/step",
        )
    ]


def w3(setup: Setup, runs_count: int, workers: Callable[[int], Any]) -> list[str]:
    steps = [
        {
            "id": "each",
            "component": setup.fib.pk,
            "for_each": "{{ input.items }}",
            "parallelism": 100,
            "inputs": {"n": "{{ item }}"},
        },
        {"id": "join", "component": setup.fib.pk, "inputs": {"n": "{{ steps.each.output.fib | length }}"}},
    ]
    workflow = setup.workflow(
        "W3",
        steps,
        inputs=[{"name": "items", "type": "list"}],
        outputs=[{"name": "count", "value": "{{ steps.join.output.n }}"}],
    )
    items = list(range(W3_ITEMS))
    with workers(2):
        timed_run(workflow, setup.owner, {"items": items})  # warm-up
        makespans = [timed_run(workflow, setup.owner, {"items": items}) for _ in range(runs_count)]
    median = statistics.median(makespans)
    return [
        table_row(
            f"W3: for_each {W3_ITEMS} x fib(10) + join, 2 workers",
            f"{median * 1000:.0f} ms makespan",
            f"{median * 1000 * 2 / W3_ITEMS:.2f} ms per task per worker",
            f"min {min(makespans) * 1000:.0f}, max {max(makespans) * 1000:.0f} ms",
        )
    ]


TRANSFORM = """
def run(inputs, ctx):
    body = inputs.get("body") or {}
    return {"greeting": "hello " + str(body.get("name", "")), "length": len(str(body))}
"""


def _load(
    call: Callable[[int], tuple[float, bool]], concurrency: int, seconds: float
) -> tuple[list[float], int, float]:
    """``concurrency`` threads calling ``call`` for ``seconds``: (latencies, failures, wall time)."""
    latencies: list[float] = []
    failures = [0]
    stop = time.monotonic() + seconds
    counter = itertools.count()

    def client() -> None:
        while time.monotonic() < stop:
            elapsed, ok = call(next(counter))
            latencies.append(elapsed)
            failures[0] += not ok

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, failures[0], time.perf_counter() - started


def w4(setup: Setup, runs_count: int, workers: Callable[[int], Any], seconds: float = 20.0) -> list[str]:
    """Webhook → one transform step → JSON response; ``seconds`` per concurrency level."""
    import requests

    from tests import servers
    from tests.factories import make_component
    from workflows import triggers
    from workflows.models import WorkflowExecution

    transform = make_component(
        project=setup.project,
        actor=setup.owner,
        name="Transform",
        code=TRANSFORM,
        inputs=[{"name": "body", "type": "json", "optional": True}],
        outputs=[{"name": "greeting", "type": "text"}, {"name": "length", "type": "number"}],
    )
    workflow = setup.workflow(
        "W4",
        [{"id": "transform", "component": transform.pk, "inputs": {"body": "{{ input.body }}"}}],
        inputs=[{"name": "body", "type": "json", "optional": True}],  # the webhook's JSON body
        outputs=[{"name": "greeting", "value": "{{ steps.transform.output.greeting }}"}],
    )
    _, token = triggers.webhook_enable(workflow=workflow, actor=setup.owner, respond="sync", timeout_seconds=30)
    assert token is not None
    lines = []
    env = {"API_KEY_RATE_LIMIT": "1000000/min", "WEBHOOK_RATE_LIMIT": "1000000/min"}
    with servers.asgi_server(**env) as url, workers(2):
        target = url + triggers.webhook_path(workflow.pk, token)
        local = threading.local()

        def call(n: int) -> tuple[float, bool]:
            session = getattr(local, "session", None) or requests.Session()
            local.session = session
            started = time.perf_counter()
            try:
                response = session.post(target, json={"name": f"n{n}"}, timeout=60)
                ok = response.status_code == 200 and response.json().get("greeting") == f"hello n{n}"
            except requests.RequestException:
                ok = False
            return (time.perf_counter() - started) * 1000, ok

        for n in range(20):
            call(n)  # warm-up
        for concurrency in (1, 10, 50):
            before = WorkflowExecution.objects.filter(workflow=workflow).count()
            latencies, failures, wall = _load(call, concurrency, seconds)
            recorded = WorkflowExecution.objects.filter(workflow=workflow).count() - before
            lines.append(
                table_row(
                    f"W4: webhook → transform → JSON, concurrency {concurrency}",
                    f"{len(latencies) / wall:.0f} executions/s",
                    f"p50 {statistics.median(latencies):.0f} ms, p99 {percentile(latencies, 99):.0f} ms",
                    f"{failures} errors, {recorded} of {len(latencies)} recorded",
                )
            )
    return lines


@contextmanager
def worker_pool(count: int) -> Iterator[None]:
    from tests import servers

    with ExitStack() as stack:
        for index in range(count):
            stack.enter_context(servers.celery_worker(name=f"bench{index}"))
        yield


WORKLOADS = {"W1": w1, "W3": w3, "W4": w4}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--only", default=",".join(WORKLOADS))
    parser.add_argument("--seconds", type=float, default=20.0, help="W4: seconds per concurrency level")
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="synchronise-bench-")
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    os.environ.update(
        SYNCHRONISE_DATA_DIR=data_dir,
        DJANGO_SETTINGS_MODULE="synchronise.settings",
        PASSWORD_HASHERS="django.contrib.auth.hashers.MD5PasswordHasher",  # noqa: S106 - a hasher, not a password
    )
    database = None
    if args.database == "postgres":
        import psycopg

        database = f"synchronise_bench_{os.getpid()}"
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{database}"')
        os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{database}"
        os.environ["REDIS_URL"] = "redis://127.0.0.1:6379/14"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from synchronise.lib import embedded_redis

    call_command("migrate", verbosity=0)
    redis = None
    if args.database == "sqlite":
        redis = embedded_redis.start(Path(settings.EMBEDDED_REDIS_SOCKET))
        os.environ["DATABASE_URL"] = f"sqlite:///{settings.DATABASES['default']['NAME']}"
    try:
        setup = Setup()
        connection.close()
        print(f"Workflows on {args.database}; medians of {args.runs} runs after a warm-up.\n")
        print(table_row("workload", "result", "detail", "note"))
        print(table_row("---", "---", "---", "---"))
        for name in args.only.split(","):
            extra = {"seconds": args.seconds} if name.strip() == "W4" else {}
            for line in WORKLOADS[name.strip()](setup, args.runs, worker_pool, **extra):
                print(line, flush=True)
    finally:
        if redis is not None:
            redis.terminate()
        if database is not None:
            from django.db import connections

            connections.close_all()
            with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
