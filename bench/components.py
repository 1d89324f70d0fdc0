"""Component benchmarks: the sandbox round trip, and ``POST /api/v1/components/{id}/run`` end to end.

    .venv/bin/python bench/components.py [--jobs 300] [--requests 200] [--concurrency 4]
                                         [--bwrap auto,off] [--sandbox-only]

Prints a table. The sandbox rows come once per ``--bwrap`` mode (``SANDBOX_BWRAP``: "auto" puts the
zygote in bubblewrap's namespaces where bwrap is installed, "off" never); the end-to-end rows use
the settings' default. Everything runs on loopback in a throwaway data directory on the embedded default
(SQLite, embedded Redis), with one uvicorn process and one Celery worker (prefork, 1 process), as
``make run`` starts them. Bounded: a fixed number of jobs and requests. The machine is shared and
noisy: read medians and ratios, not single numbers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TRIVIAL = "def run(inputs, ctx):\n    return {'y': inputs['x'] + 1}\n"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def row(name: str, values: list[float], unit: str = "ms", extra: str = "") -> str:
    return f"| {name:<44} | {statistics.median(values):>9.2f} | {percentile(values, 99):>9.2f} | {unit:<4} | {extra} |"


def sandbox_round_trips(jobs: int, bwrap: str) -> list[str]:
    from django.test import override_settings

    with override_settings(SANDBOX_BWRAP=bwrap):
        return _sandbox_round_trips(jobs)


def _sandbox_round_trips(jobs: int) -> list[str]:
    from components.sandbox import Job, Limits, Pool

    lines = []
    cold = []
    for _ in range(min(10, jobs)):
        pool = Pool.from_settings()
        started = time.perf_counter()
        outcome = pool.run(Job(code=TRIVIAL, inputs={"x": 1}, idempotency_key="bench"), limits=Limits())
        cold.append((time.perf_counter() - started) * 1000)
        assert outcome.ok, outcome.error
        pool.close()
    pool = Pool.from_settings()
    pool.run(Job(code=TRIVIAL, inputs={"x": 1}, idempotency_key="warm-up"), limits=Limits())
    namespaces = pool.layers["namespaces"]
    label = "sandbox, " + ("bwrap" if namespaces else "no bwrap")
    lines.append(row(f"{label}, cold (new pool + first job)", cold))
    warm = []
    for n in range(jobs):
        started = time.perf_counter()
        outcome = pool.run(Job(code=TRIVIAL, inputs={"x": n}, idempotency_key=f"bench-{n}"), limits=Limits())
        warm.append((time.perf_counter() - started) * 1000)
        assert outcome.ok, outcome.error
        assert outcome.outputs == {"y": n + 1}, outcome.outputs
    lines.append(row(f"{label}, warm, back to back (trivial job)", warm, extra="target ≤ 5 ms median"))
    # Inside a worker a job follows database work, during which the zygote forks the next child.
    paced = []
    for n in range(jobs):
        time.sleep(0.003)
        started = time.perf_counter()
        outcome = pool.run(Job(code=TRIVIAL, inputs={"x": n}, idempotency_key=f"paced-{n}"), limits=Limits())
        paced.append((time.perf_counter() - started) * 1000)
        assert outcome.ok, outcome.error
    pool.close()
    lines.append(row(f"{label}, warm, 3 ms apart (spare child ready)", paced, extra="as in a worker"))
    return lines


def end_to_end(requests_count: int, concurrency: int) -> list[str]:
    import requests
    from django.db import connection

    from accounts import services as account_services
    from accounts.models import Plan
    from components import services
    from tests import fake_api, servers
    from tests.factories import make_project, make_user

    lines = []
    with fake_api.serve() as third_party:
        owner = make_user(email="bench@example.com")
        account_services.user_set_plan(user=owner, plan=Plan.objects.get(slug="unlimited"))
        project = make_project(owner=owner, name="Bench")
        code = services.component_create(
            project=project, actor=owner, name="Trivial", code=TRIVIAL,
            inputs=[{"name": "x", "type": "number"}], outputs=[{"name": "y", "type": "number"}],
        )  # fmt: skip
        http = services.component_create(
            project=project, actor=owner, name="Echo", kind="http",
            inputs=[{"name": "x", "type": "number"}], outputs=[{"name": "method", "type": "text"}],
            http={"method": "GET", "url": third_party.url("/echo"), "query": {"x": "{{ inputs.x }}"},
                  "outputs": {"method": "body.method"}},
        )  # fmt: skip
        for component in (code, http):
            services.component_publish(component=component, actor=owner)
        _key, secret = account_services.api_key_create(project=project, actor=owner)
        connection.close()
        env = {"OUTBOUND_ALLOW": third_party.destination, "API_KEY_RATE_LIMIT": "1000000/min"}
        with servers.asgi_server(**env) as url, servers.celery_worker(**env):
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {secret}"
            for name, component in (("code", code), ("http", http)):
                target = f"{url}/api/v1/components/{component.pk}/run"

                def call(n: int, target: str = target) -> float:
                    started = time.perf_counter()
                    response = session.post(target, json={"x": n}, timeout=60)
                    assert response.status_code == 200, response.text
                    return (time.perf_counter() - started) * 1000

                for n in range(5):
                    call(n)  # warm-up: pools, connections
                sequential = [call(n) for n in range(requests_count)]
                lines.append(row(f"POST …/run, {name} component, one client", sequential))
                started = time.perf_counter()
                with ThreadPoolExecutor(concurrency) as pool:
                    parallel = list(pool.map(call, range(requests_count)))
                rate = requests_count / (time.perf_counter() - started)
                lines.append(
                    row(f"POST …/run, {name} component, {concurrency} clients", parallel, extra=f"{rate:.0f} req/s")
                )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--bwrap", default="auto,off", help="SANDBOX_BWRAP modes to measure the sandbox in")
    parser.add_argument("--sandbox-only", action="store_true", help="skip the end-to-end requests")
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="synchronise-bench-")
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    os.environ.update(
        SYNCHRONISE_DATA_DIR=data_dir,
        DJANGO_SETTINGS_MODULE="synchronise.settings",
        PASSWORD_HASHERS="django.contrib.auth.hashers.MD5PasswordHasher",  # noqa: S106 - a hasher, not a password
    )
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from synchronise.lib import embedded_redis

    call_command("migrate", verbosity=0)
    redis = embedded_redis.start(Path(settings.EMBEDDED_REDIS_SOCKET))
    os.environ["DATABASE_URL"] = f"sqlite:///{settings.DATABASES['default']['NAME']}"
    try:
        print("| measurement                                  |    median |       p99 | unit |       |")
        print("|----------------------------------------------|-----------|-----------|------|-------|")
        for mode in args.bwrap.split(","):
            for line in sandbox_round_trips(args.jobs, mode):
                print(line, flush=True)
        if not args.sandbox_only:
            for line in end_to_end(args.requests, args.concurrency):
                print(line, flush=True)
    finally:
        if redis is not None:
            redis.terminate()


if __name__ == "__main__":
    main()
