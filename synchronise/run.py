"""Start the whole platform in the foreground: ``python -m synchronise.run`` (what ``make run`` calls).

Starts, in this order: the embedded Redis (only when ``REDIS_URL`` is unset), the ASGI
server (HTTP + WebSocket, uvicorn), a Celery worker and Celery beat. Prints the URL once
``/healthz`` answers and a worker replies to a ping. Ctrl-C (or SIGTERM) stops everything it started, web first, Redis
last; if any part dies, the rest is stopped too and the exit code is non-zero.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import FrameType

from synchronise.lib import embedded_redis
from synchronise.lib.env import env_int, env_str

STOP_TIMEOUT_SECONDS = 15


class Platform:
    def __init__(self) -> None:
        self.host = env_str("HOST", "127.0.0.1")
        self.port = env_int("PORT", 8000)
        self.workers = env_int("CELERY_CONCURRENCY", 2)
        self.web_processes = env_int("WEB_CONCURRENCY", 1)
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.redis: subprocess.Popen[bytes] | None = None
        self.stopping = False

    def start(self) -> None:
        python = sys.executable
        if not os.environ.get("REDIS_URL"):
            from django.conf import settings

            socket_path = Path(settings.EMBEDDED_REDIS_SOCKET)
            self.redis = embedded_redis.start(socket_path)
            print(f"embedded Redis on {socket_path}", flush=True)
        self._spawn(
            "web",
            [
                python, "-m", "uvicorn", "synchronise.asgi:application",
                "--host", self.host, "--port", str(self.port),
                "--workers", str(self.web_processes),
                "--ws", "websockets-sansio", "--ws-per-message-deflate", "false",
                "--lifespan", "off",
            ],
        )  # fmt: skip
        self._spawn(
            "worker",
            [python, "-m", "celery", "-A", "synchronise", "worker", "-l", "info", "-c", str(self.workers)],
        )
        self._spawn("beat", [python, "-m", "celery", "-A", "synchronise", "beat", "-l", "info"])

    def _spawn(self, name: str, argv: list[str]) -> None:
        # A session of its own: Ctrl-C reaches only us, and we stop children in order.
        self.children.append((name, subprocess.Popen(argv, start_new_session=True)))

    def wait_until_healthy(self, timeout: float = 90) -> bool:
        """True once ``/healthz`` answers 200 and a Celery worker answers a ping."""
        from synchronise.celery import app

        url = f"http://{self.host}:{self.port}/healthz"
        deadline = time.monotonic() + timeout
        web_ok = False
        while time.monotonic() < deadline and not self._dead_child():
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

    def _dead_child(self) -> str | None:
        for name, process in self.children:
            if process.poll() is not None:
                return name
        return None

    def stop(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        for _name, process in self.children:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for _name, process in self.children:
            try:
                process.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self.redis is not None:
            self.redis.terminate()
            self.redis.wait(5)

    def run(self) -> int:
        def on_signal(signum: int, frame: FrameType | None) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, on_signal)
        try:
            self.start()
            if self.wait_until_healthy():
                print(f"\nSynchronise is running at http://{self.host}:{self.port}/  (Ctrl-C stops it)\n", flush=True)
            else:
                print("\nThe platform did not become healthy; see the output above.\n", flush=True)
            while True:
                dead = self._dead_child()
                if dead:
                    print(f"{dead} stopped unexpectedly; stopping the platform.", flush=True)
                    return 1
                time.sleep(0.5)
        except KeyboardInterrupt:
            print("\nStopping…", flush=True)
            return 0
        finally:
            self.stop()


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "synchronise.settings")
    import django

    django.setup()
    return Platform().run()


if __name__ == "__main__":
    sys.exit(main())
