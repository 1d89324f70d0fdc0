"""`make run`'s platform, started for real on the embedded default in a fresh data directory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from synchronise.lib import embedded_redis
from tests.servers import ROOT, free_port

pytestmark = pytest.mark.services


def embedded_env(data_dir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DATABASE_TEST_NAME"}}
    env.update(SYNCHRONISE_DATA_DIR=str(data_dir), PORT=str(port), CELERY_CONCURRENCY="1", PYTHONUNBUFFERED="1")
    return env


def wait_for_line(process: subprocess.Popen[str], needle: str, timeout: float) -> list[str]:
    assert process.stdout is not None
    os.set_blocking(process.stdout.fileno(), False)
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line:
            lines.append(line)
            if needle in line:
                return lines
        elif process.poll() is not None:
            break
        else:
            time.sleep(0.05)
    raise AssertionError(f"{needle!r} not printed; output:\n{''.join(lines)}")


def test_it_starts_the_whole_platform_and_stops_it_on_ctrl_c(tmp_path):
    port = free_port()
    env = embedded_env(tmp_path, port)
    migrate = [sys.executable, "manage.py", "migrate", "--noinput"]
    subprocess.run(migrate, cwd=ROOT, env=env, check=True, capture_output=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "synchronise.run"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        wait_for_line(process, f"running at http://127.0.0.1:{port}/", timeout=90)

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            health = json.load(response)
        assert health["status"] == "ok", health

        # A real worker answers on the embedded broker.
        ping = subprocess.run(
            [sys.executable, "-m", "celery", "-A", "synchronise", "inspect", "ping", "--timeout", "5"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert "pong" in ping.stdout, ping.stdout + ping.stderr

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=40) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    # Everything it started is gone: the web port is closed and the embedded Redis stopped.
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
    assert not embedded_redis.is_running(tmp_path / "redis.sock")
