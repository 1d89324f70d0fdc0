"""Real processes for tests: the ASGI server (uvicorn) and a Celery worker, on the test database."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_database_url() -> str:
    """The URL of the database the test run uses (pytest-django has renamed it by now)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


def process_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["DATABASE_URL"] = test_database_url()
    env["SYNCHRONISE_DATA_DIR"] = str(settings.DATA_DIR)
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.update(extra)
    return env


def wait_for_http(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def asgi_server(*, port: int | None = None, **env: str) -> Iterator[str]:
    """Run uvicorn on loopback (a free port unless given); yield its base URL."""
    port = port or free_port()
    # Links in emails point at SITE_URL, derived from HOST/PORT as `make run` reads them.
    env = {"HOST": "127.0.0.1", "PORT": str(port), **env}
    process = subprocess.Popen(
        [
            sys.executable, "-m", "uvicorn", "synchronise.asgi:application",
            "--host", "127.0.0.1", "--port", str(port), "--lifespan", "off",
            "--ws", "websockets-sansio", "--no-access-log",
        ],
        cwd=ROOT,
        env=process_env(**env),
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(url + "/healthz", process)
        yield url
    finally:
        stop(process)


@contextmanager
def celery_worker(*, beat: bool = False, name: str = "", **env: str) -> Iterator[subprocess.Popen[bytes]]:
    """Run one real Celery worker process on the test database and broker (with ``beat``, also
    the periodic scheduler in it); in its own process group, so a test can kill all of it."""
    command = [sys.executable, "-m", "celery", "-A", "synchronise", "worker", "-l", "warning"]
    command += ["-c", "1", "--pool", "prefork"]
    if beat:
        command += ["-B", "-s", str(Path(settings.DATA_DIR) / f"beat-{os.getpid()}")]
    if name:
        command += ["-n", f"{name}@%h"]
    process = subprocess.Popen(command, cwd=ROOT, env=process_env(**env), start_new_session=True)
    try:
        from synchronise.celery import app

        node = f"{name or 'celery'}@{socket.gethostname()}"
        deadline = time.monotonic() + 30
        while not app.control.ping(destination=[node], timeout=0.5):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Celery worker {node} did not start")
        yield process
    finally:
        stop(process)
        # A pool process still busy when its parent gave up (or was killed) would live on, with
        # its persistent database connection: nothing of the worker outlives the test.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


@contextmanager
def celery_beat(**env: str) -> Iterator[subprocess.Popen[bytes]]:
    """Run Celery beat (the database scheduler) on its own, as production does."""
    command = [sys.executable, "-m", "celery", "-A", "synchronise", "beat", "-l", "warning"]
    command += ["-s", str(Path(settings.DATA_DIR) / f"beat-{os.getpid()}")]
    process = subprocess.Popen(command, cwd=ROOT, env=process_env(**env), start_new_session=True)
    try:
        time.sleep(0.5)
        if process.poll() is not None:
            raise RuntimeError("celery beat did not start")
        yield process
    finally:
        stop(process)
