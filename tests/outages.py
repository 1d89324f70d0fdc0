"""Services a test can take away and give back: a private Redis it kills and restarts on the same
address, and a loopback TCP proxy in front of PostgreSQL it severs and restores. Never the
machine's shared PostgreSQL or Redis, which other test runs use."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from synchronise.lib import embedded_redis
from tests import servers


class PrivateRedis:
    """A ``redis-server`` of this test's own, on a loopback TCP port or a unix socket."""

    def __init__(self, directory: Path, *, unix_socket: Path | None = None) -> None:
        self.directory = directory
        self.unix_socket = unix_socket
        self.port = 0 if unix_socket else servers.free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        if self.unix_socket:
            return redis.Redis(unix_socket_path=str(self.unix_socket), socket_timeout=1)
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1)

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        command = [embedded_redis.server_binary(), "--port", str(self.port), "--bind", "127.0.0.1"]
        if self.unix_socket:
            self.unix_socket.unlink(missing_ok=True)
            command += ["--unixsocket", str(self.unix_socket), "--unixsocketperm", "700"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.directory), "--loglevel", "warning"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while True:
            with contextlib.suppress(redis.RedisError):
                if self.client().ping():
                    return
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the private Redis did not start")
            time.sleep(0.05)

    def kill(self) -> None:
        """Gone at once, as a crashed server: SIGKILL, no shutdown."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


class TcpProxy:
    """``127.0.0.1:<port>`` forwarding to ``target``; ``sever()`` cuts every connection and refuses
    new ones (as a server that went away), ``restore()`` accepts again on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = servers.free_port()
        self.lock = threading.Lock()
        self.sockets: set[socket.socket] = set()
        self.listener: socket.socket | None = None

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def sever(self) -> None:
        with self.lock:
            listener, self.listener = self.listener, None
            doomed, self.sockets = self.sockets, set()
        for sock in [listener, *doomed]:
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # severed
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self.lock:
                if self.listener is not listener:  # severed meanwhile
                    client.close()
                    upstream.close()
                    return
                self.sockets |= {client, upstream}
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with self.lock:
                self.sockets -= {source, sink}
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()


@contextmanager
def celery_worker(*, name: str, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    """``servers.celery_worker`` for a worker on another broker than this process's (a private
    Redis): this process cannot ping it, so the test's first run is what shows it is up."""
    command = [sys.executable, "-m", "celery", "-A", "synchronise", "worker", "-l", "warning"]
    command += ["-c", "1", "--pool", "prefork", "-n", f"{name}@%h"]
    process = subprocess.Popen(command, cwd=servers.ROOT, env=servers.process_env(**env), start_new_session=True)
    try:
        yield process
    finally:
        servers.stop(process)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
