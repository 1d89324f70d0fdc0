"""Sandbox round trip on this machine: a diagnostic, not a test (it asserts nothing about time).

    .venv/bin/python bench/sandbox_timing.py [--jobs 60]

Prints the median and slowest round trip of a trivial job with a spare child ready (a short gap
between jobs) and back to back, and the cold start of a new pool (zygote start + first job).
docs/sandbox.md has the numbers measured so far. Bounded: a fixed number of jobs; no database.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CODE = "def run(inputs, ctx):\n    return {'x': 1}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=60, help="jobs per row")
    args = parser.parse_args()
    os.environ.setdefault("SYNCHRONISE_DATA_DIR", tempfile.mkdtemp(prefix="synchronise-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "synchronise.settings")
    import django

    django.setup()
    from components.sandbox import Job, Pool

    pool = Pool()
    pool.start()
    samples: dict[str, list[float]] = {"spare ready": [], "back to back": []}
    try:
        for label, gap in (("spare ready", 0.02), ("back to back", 0.0)):
            for _ in range(args.jobs):
                started = time.perf_counter()
                outcome = pool.run(Job(code=CODE, inputs={}, idempotency_key="t"))
                samples[label].append((time.perf_counter() - started) * 1000)
                if not outcome.ok:
                    raise SystemExit(f"a job failed: {outcome.error}")
                time.sleep(gap)
    finally:
        pool.close()
    cold_pool = Pool()
    try:
        started = time.perf_counter()
        if not cold_pool.run(Job(code=CODE, inputs={}, idempotency_key="t")).ok:
            raise SystemExit("the cold pool's first job failed")
        cold = (time.perf_counter() - started) * 1000
    finally:
        cold_pool.close()
    for label, values in samples.items():
        values.sort()
        print(f"sandbox round trip, {label}: median {statistics.median(values):.2f} ms, slowest {values[-1]:.2f} ms")
    print(f"sandbox round trip, cold (zygote start + first job): {cold:.0f} ms")


if __name__ == "__main__":
    main()
