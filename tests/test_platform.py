"""`make run`'s platform, started for real on the embedded default in a fresh data directory: it
serves, restarts a process that dies, and stops everything (Redis last) on Ctrl-C or SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
import redis

from synchronise.lib import embedded_redis
from tests.servers import ROOT, free_port

pytestmark = pytest.mark.services

STOP_BOUND = 10  # seconds from the signal until every process of the platform is gone

# A workflow run end to end through the platform's worker (a separate process on its database).
RUN_ONE = """
import django

django.setup()
from tests.factories import make_component, make_project, make_user, make_workflow
from workflows import runs

user = make_user(email=f"op{__import__('os').getpid()}@example.com")
project = make_project(owner=user)
component = make_component(project=project, actor=user, code="def run(inputs, ctx):\\n    return {'n': 1}\\n",
                           outputs=[{"name": "n", "type": "number", "subtype": "integer"}])
workflow = make_workflow(project=project, actor=user, steps=[{"id": "a", "component": component.pk, "inputs": {}}],
                         outputs=[{"name": "n", "value": "{{ steps.a.output.n }}"}])
execution = runs.execution_wait(runs.execution_start(workflow=workflow, inputs={}, user=user), timeout=60)
print("finished", execution.status, execution.outputs)
"""


def embedded_env(data_dir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DATABASE_TEST_NAME"}}
    env.update(SYNCHRONISE_DATA_DIR=str(data_dir), PORT=str(port), CELERY_CONCURRENCY="1", PYTHONUNBUFFERED="1")
    return env


class Output:
    """What the platform prints (every process of it writes to the same pipe), read without
    blocking while the test waits for a line; the pipe's end means they have all exited."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        self.fd = process.stdout.fileno()
        os.set_blocking(self.fd, False)
        self.process = process
        self.buffer = b""
        self.closed = False

    def read(self) -> None:
        while not self.closed:
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            if not chunk:
                self.closed = True
            self.buffer += chunk

    @property
    def text(self) -> str:
        return self.buffer.decode(errors="replace")

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        """The first match of ``pattern`` (a multi-line regex) in the output, waiting up to ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            self.read()
            match = re.search(pattern, self.text, re.MULTILINE)
            if match:
                return match
            if time.monotonic() > deadline or self.closed:
                raise AssertionError(f"{pattern!r} not printed; output:\n{self.text}")
            time.sleep(0.05)

    def wait_closed(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.closed and time.monotonic() < deadline:
            self.read()
            time.sleep(0.05)
        return self.closed


@contextmanager
def platform(tmp_path: Path, *, via_make: bool = False) -> Iterator[tuple[subprocess.Popen[bytes], Output, int]]:
    """``python -m synchronise.run`` on a migrated fresh data directory. ``via_make``: under make, in
    a process group of its own, as ``make run`` runs it (a signal to the group reaches both)."""
    port = free_port()
    env = embedded_env(tmp_path, port)
    migrate = [sys.executable, "manage.py", "migrate", "--noinput"]
    subprocess.run(migrate, cwd=ROOT, env=env, check=True, capture_output=True)
    command = [sys.executable, "-m", "synchronise.run"]
    if via_make:
        # GNU make passes a SIGTERM on to its child: the supervisor gets a second one while stopping.
        makefile = tmp_path / "Makefile"
        makefile.write_text(f"run:\n\t{' '.join(command)}\n")
        command = ["make", "--no-print-directory", "-f", str(makefile), "run"]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=via_make
    )
    output = Output(process)
    try:
        output.wait_for(f"running at http://127.0.0.1:{port}/", timeout=120)
        yield process, output, port
    finally:
        # Nothing of the platform outlives the test: stopped as an operator would, then killed.
        if not output.closed:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM) if via_make else process.terminate()
            output.wait_closed(timeout=STOP_BOUND + 20)
        for pid in [process.pid, *started_pids(output)]:
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        process.wait()
        socket_path = tmp_path / "redis.sock"
        if embedded_redis.is_running(socket_path):
            with suppress(redis.RedisError):
                redis.Redis(unix_socket_path=str(socket_path)).shutdown(nosave=True)


def started_pids(output: Output) -> list[int]:
    output.read()
    return [int(pid) for pid in re.findall(r"^\w+ started \(pid (\d+)\)", output.text, re.MULTILINE)]


def descendants(root: int) -> dict[int, tuple[int, str]]:
    """The processes below ``root``: pid -> (parent pid, command line), read from /proc."""
    table: dict[int, tuple[int, str]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError, IndexError):
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            table[int(stat.parent.name)] = (parent, command)
    found: dict[int, tuple[int, str]] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, entry in table.items():
            if entry[0] == parent and pid not in found:
                found[pid] = entry
                frontier.append(pid)
    return found


def celery_main(root: int, kind: str) -> int | None:
    """The main process of the platform's Celery ``worker`` or ``beat``: the one of that kind whose
    parent is not (pool processes are children of the worker's main process)."""
    processes = descendants(root)
    needle = f"synchronise {kind}"
    for pid, (parent, command) in processes.items():
        if needle in command and needle not in processes.get(parent, (0, ""))[1]:
            return pid
    return None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purpose (only its parent can reap it).
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


def assert_all_gone(tmp_path: Path, port: int, pids: list[int]) -> None:
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
    assert not embedded_redis.is_running(tmp_path / "redis.sock")
    assert [pid for pid in pids if alive(pid)] == []


def test_it_starts_the_whole_platform_and_stops_it_on_ctrl_c(tmp_path):
    with platform(tmp_path) as (process, output, port):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            health = json.load(response)
        assert health["status"] == "ok", health

        # A real worker answers on the embedded broker.
        env = embedded_env(tmp_path, port)
        ping = subprocess.run(
            [sys.executable, "-m", "celery", "-A", "synchronise", "inspect", "ping", "--timeout", "5"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert "pong" in ping.stdout, ping.stdout + ping.stderr

        pids = started_pids(output)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=STOP_BOUND + 5) == 0, output.text
        output.read()

    assert_all_gone(tmp_path, port, pids)
    assert "Traceback" not in output.text, output.text


def test_a_dead_worker_or_beat_is_restarted_and_the_platform_keeps_working(tmp_path):
    with platform(tmp_path, via_make=True) as (process, output, port):
        worker, beat = celery_main(process.pid, "worker"), celery_main(process.pid, "beat")
        assert worker is not None
        assert beat is not None
        os.kill(worker, signal.SIGKILL)  # the main process only: its pool child is orphaned
        os.kill(beat, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while celery_main(process.pid, "worker") in (None, worker) or celery_main(process.pid, "beat") in (None, beat):
            assert not output.closed, f"the platform stopped; output:\n{output.text}"
            assert time.monotonic() < deadline, f"not restarted; output:\n{output.text}"
            output.read()
            time.sleep(0.1)
        output.wait_for(rf"^worker \(pid {worker}\) was killed by SIGKILL; restarting in 1 s", timeout=5)
        output.wait_for(rf"^beat \(pid {beat}\) was killed by SIGKILL; restarting in 1 s", timeout=5)

        # The platform still works: a workflow runs on the new worker.
        run = subprocess.run(
            [sys.executable, "-c", RUN_ONE], cwd=ROOT, env=embedded_env(tmp_path, port),
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert "finished succeeded {'n': 1}" in run.stdout, run.stdout + run.stderr
        assert process.poll() is None  # the supervisor never stopped


def test_sigterm_to_the_process_group_stops_everything_cleanly_redis_last(tmp_path):
    with platform(tmp_path, via_make=True) as (process, output, port):
        pids = started_pids(output)
        signaled = time.monotonic()
        os.killpg(process.pid, signal.SIGTERM)  # what `kill -TERM -<make's pgid>` does
        closed = output.wait_closed(timeout=STOP_BOUND + 20)  # every process of the platform exited
        took = time.monotonic() - signaled
        assert closed, output.text

    assert took < STOP_BOUND, f"stopping took {took:.1f} s\n{output.text}"
    assert_all_gone(tmp_path, port, pids)
    assert "Traceback" not in output.text, output.text
    stopped = re.findall(r"^(web|worker|beat|embedded Redis) stopped$", output.text, re.MULTILINE)
    assert sorted(stopped) == ["beat", "embedded Redis", "web", "worker"], output.text
    assert stopped[-1] == "embedded Redis", output.text
