"""How soon a restarted Celery worker is useful: from its process start to the end of the first
task waiting for it, with and without mingle/gossip/heartbeat.

    .venv/bin/python bench/worker_restart.py [--trials 5]

Prints a table. A "peer" worker runs throughout (as when one of several workers is restarted:
mingle then has someone to hear from); the measured worker consumes a queue of its own, where a
task already waits when it starts. Everything runs in a throwaway data directory on the embedded
Redis. The machine is shared and noisy: read medians, not single numbers.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FAST = ["--without-mingle", "--without-gossip", "--without-heartbeat"]  # what make run starts


def worker(env: dict[str, str], name: str, *options: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "celery", "-A", "synchronise", "worker", "-l", "info", "-c", "1"]
    command += ["-n", f"{name}@%h", *options]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def until(process: subprocess.Popen[bytes], pattern: str, started: float, timeout: float = 60) -> dict[str, float]:
    """Seconds from ``started`` to the ``ready`` line and to the first line matching ``pattern``."""
    assert process.stdout is not None
    seen: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline().decode(errors="replace")
        if not line:
            break
        if "ready." in line and "ready" not in seen:
            seen["ready"] = time.monotonic() - started
        if re.search(pattern, line):
            seen["task"] = time.monotonic() - started
            return seen
    raise RuntimeError(f"{pattern!r} not seen")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.communicate(timeout=10)  # drains its output: a full pipe would block its exit
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-restart-") as data_dir:
        env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
        env.update(SYNCHRONISE_DATA_DIR=data_dir, PYTHONUNBUFFERED="1")
        os.environ.update(env)
        os.environ.pop("DATABASE_URL", None)
        os.environ.pop("REDIS_URL", None)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "synchronise.settings")
        import django

        django.setup()
        from django.conf import settings

        from synchronise.celery import app
        from synchronise.lib import embedded_redis

        redis_process = embedded_redis.start(Path(settings.EMBEDDED_REDIS_SOCKET))
        peer = worker(env, "peer", *FAST)
        results: dict[str, list[dict[str, float]]] = {"default (mingle, gossip, heartbeat)": [], "make run's": []}
        try:
            until(peer, r"ready\.", time.monotonic())
            for trial in range(args.trials):
                for label, options in (("default (mingle, gossip, heartbeat)", []), ("make run's", FAST)):
                    queue = f"bench-{trial}-{len(options)}"
                    app.send_task("celery.accumulate", args=(1,), queue=queue)  # waiting before the start
                    started = time.monotonic()
                    measured = worker(env, f"measured-{trial}-{len(options)}", "-Q", queue, *options)
                    try:
                        results[label].append(until(measured, r"celery\.accumulate\[.*\] succeeded", started))
                    finally:
                        stop(measured)
        finally:
            stop(peer)
            if redis_process is not None:
                redis_process.terminate()
                redis_process.wait(5)

    print(f"\n{'worker options':<40}{'ready (median s)':>18}{'first task (median s)':>24}{'first task (max s)':>20}")
    for label, rows in results.items():
        ready = statistics.median(row.get("ready", row["task"]) for row in rows)
        task = [row["task"] for row in rows]
        print(f"{label:<40}{ready:>18.2f}{statistics.median(task):>24.2f}{max(task):>20.2f}")
    print(f"({args.trials} trials each, one peer worker running)")


if __name__ == "__main__":
    main()
