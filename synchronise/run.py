"""Start the whole platform in the foreground: ``python -m synchronise.run`` (what ``make run`` calls).

Starts, in this order: the embedded Redis (only when ``REDIS_URL`` is unset), the ASGI
server (HTTP + WebSocket, uvicorn), a Celery worker and Celery beat. Prints the URL once
``/healthz`` answers and a worker replies to a ping.

It supervises them: a process that dies is started again after a pause that doubles while it
keeps dying (1 s up to 30 s; back to 1 s once it has run for a minute), and says so on the
output. Only Ctrl-C (SIGINT) or SIGTERM stops the platform: web, worker and beat are asked to
stop, whatever has not stopped after ``CHILDREN_STOP_SECONDS`` is killed, and Redis goes last;
all of it within ``STOP_SECONDS`` (docs/failure-model.md).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from synchronise.lib import embedded_redis
from synchronise.lib.env import env_int, env_str

CHILDREN_STOP_SECONDS = 6.0  # web, worker (a warm shutdown lets running steps finish) and beat
REDIS_STOP_SECONDS = 2.0
STOP_SECONDS = CHILDREN_STOP_SECONDS + REDIS_STOP_SECONDS
RESTART_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
STABLE_SECONDS = 60.0  # a process that ran this long is restarted after the shortest delay again
# A worker started again must take work at once: nothing here uses what mingle (revoked tasks and
# clocks of the other workers at start-up), gossip (worker events) and heartbeats (for monitors)
# provide, and each costs start-up time or broker traffic.
WORKER_OPTIONS = ["--without-mingle", "--without-gossip", "--without-heartbeat"]


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    failures: int = 0  # deaths in a row, each soon after its start
    restart_at: float | None = None


@dataclass
class Platform:
    host: str = field(default_factory=lambda: env_str("HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: env_int("PORT", 8000))
    workers: int = field(default_factory=lambda: env_int("CELERY_CONCURRENCY", 2))
    web_processes: int = field(default_factory=lambda: env_int("WEB_CONCURRENCY", 1))
    children: list[Child] = field(default_factory=list)
    redis: subprocess.Popen[bytes] | None = None
    redis_socket: Path | None = None
    stop_requested: bool = False

    def start(self) -> None:
        python = sys.executable
        if not os.environ.get("REDIS_URL"):
            from django.conf import settings

            self.redis_socket = Path(settings.EMBEDDED_REDIS_SOCKET)
            self.redis = embedded_redis.start(self.redis_socket)
            print(f"embedded Redis on {self.redis_socket}", flush=True)
        web = [
            python, "-m", "uvicorn", "synchronise.asgi:application",
            "--host", self.host, "--port", str(self.port),
            "--workers", str(self.web_processes),
            "--ws", "websockets-sansio", "--ws-per-message-deflate", "false",
            "--lifespan", "off",
        ]  # fmt: skip
        celery = [python, "-m", "celery", "-A", "synchronise"]
        self.children = [
            Child("web", web),
            Child("worker", [*celery, "worker", "-l", "info", "-c", str(self.workers), *WORKER_OPTIONS]),
            Child("beat", [*celery, "beat", "-l", "info"]),
        ]
        for child in self.children:
            self._spawn(child)

    def _spawn(self, child: Child) -> None:
        # A session of its own: Ctrl-C reaches only us, we stop children in order, and killing
        # its process group takes what it forked (Celery's pool processes) with it.
        child.process = subprocess.Popen(child.argv, start_new_session=True)
        child.started_at = time.monotonic()
        child.restart_at = None
        print(f"{child.name} started (pid {child.process.pid})", flush=True)

    def supervise(self) -> None:
        """Restart what died, after its delay; one pass, called every few hundred milliseconds."""
        now = time.monotonic()
        for child in self.children:
            process = child.process
            if child.restart_at is not None:
                if now >= child.restart_at and not self.stop_requested:
                    self._spawn(child)
                continue
            if process is None or process.poll() is None:
                continue
            _kill_group(process)  # its pool processes, orphaned by a killed main process
            if now - child.started_at >= STABLE_SECONDS:
                child.failures = 0
            delay = RESTART_DELAYS[min(child.failures, len(RESTART_DELAYS) - 1)]
            child.failures += 1
            child.restart_at = now + delay
            ended = _ended(process.returncode)
            print(f"{child.name} (pid {process.pid}) {ended}; restarting in {delay:g} s", flush=True)
        if self.redis is not None and self.redis.poll() is not None and self.redis_socket is not None:
            print(f"embedded Redis {_ended(self.redis.returncode)}; restarting it", flush=True)
            try:
                self.redis = embedded_redis.start(self.redis_socket)
            except RuntimeError as error:  # tried again on the next pass
                print(f"embedded Redis did not start: {error}", flush=True)

    def wait_until_healthy(self, timeout: float = 90) -> bool:
        """True once ``/healthz`` answers 200 and a Celery worker answers a ping."""
        from synchronise.celery import app

        url = f"http://{self.host}:{self.port}/healthz"
        deadline = time.monotonic() + timeout
        web_ok = False
        while time.monotonic() < deadline and not self.stop_requested:
            self.supervise()
            if not web_ok:
                try:
                    with urllib.request.urlopen(url, timeout=2) as response:
                        web_ok = response.status == 200
                except OSError:
                    pass
            if web_ok and app.control.ping(timeout=0.5):
                return True
            time.sleep(0.3)
        return False

    def stop(self) -> None:
        """Web, worker and beat first (asked, then killed at the deadline), Redis last."""
        deadline = time.monotonic() + CHILDREN_STOP_SECONDS
        running = [child for child in self.children if child.process is not None and child.process.poll() is None]
        for child in running:
            assert child.process is not None
            with contextlib.suppress(ProcessLookupError):
                child.process.send_signal(signal.SIGTERM)
        for child in self.children:
            if child.process is None:
                continue
            try:
                child.process.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                print(f"{child.name} did not stop within {CHILDREN_STOP_SECONDS:g} s; killing it", flush=True)
            _kill_group(child.process)  # also what outlived its main process
            child.process.wait()
            print(f"{child.name} stopped", flush=True)
        if self.redis is not None:
            self.redis.terminate()
            try:
                self.redis.wait(REDIS_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.redis.kill()
                self.redis.wait()
            print("embedded Redis stopped", flush=True)

    def run(self) -> int:
        def on_signal(signum: int, frame: FrameType | None) -> None:
            # Only a flag: raising here (KeyboardInterrupt) could interrupt the stop itself.
            self.stop_requested = True

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        try:
            self.start()
            if self.wait_until_healthy():
                print(f"\nSynchronise is running at http://{self.host}:{self.port}/  (Ctrl-C stops it)\n", flush=True)
            elif not self.stop_requested:
                print("\nThe platform is not healthy yet; see the output above.\n", flush=True)
            while not self.stop_requested:
                self.supervise()
                time.sleep(0.2)
            print("\nStopping…", flush=True)
            return 0
        finally:
            self.stop()


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    # The child leads its own process group (start_new_session); the group's id is its pid.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _ended(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        return f"was killed by {signal.Signals(-returncode).name}"
    return f"exited with code {returncode}"


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "synchronise.settings")
    import django

    django.setup()
    return Platform().run()


if __name__ == "__main__":
    sys.exit(main())
