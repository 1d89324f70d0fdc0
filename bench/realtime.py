"""Realtime fan-out benchmark (issue 3, DESIGN.md §4): N WebSockets on real server processes.

Self-contained and bounded, loopback only::

    .venv/bin/python bench/realtime.py --quick               # N=1,000, 5 s targeted, 2 repeats (~1 min)
    .venv/bin/python bench/realtime.py                       # N=1,000 / 5,000 / 10,000, 5 repeats (~10 min)
    .venv/bin/python bench/realtime.py --sizes 10000 --repeats 3

What it does, per size N:

* a fresh Redis database (``--redis-url``, flushed), a throwaway SQLite in a temporary
  ``SYNCHRONISE_DATA_DIR`` (or a temporary database on the PostgreSQL server of ``--database-url``),
  ``manage.py migrate``; N/20 users, each owning one project, plus one shared project of which all of
  them are members, and a Django session per user;
* ``--servers`` uvicorn processes (the flags of ``synchronise/run.py``) on free loopback ports;
* ``--clients`` client processes (asyncio + ``websockets``) opening N sockets spread over the
  servers, 20 per user; each socket signs in by its user's session cookie and subscribes
  ``getProject(own project)`` and ``getProject(shared project)`` with ``realtime: true``;
* *connect*: time until all N sockets are open and both subscriptions answered; server memory per
  connection (sum of the servers' RSS after minus before, / N);
* *targeted*: ``--rate`` changes/s for ``--seconds``, each ``accounts.services.project_update`` of a
  random user's own project (20 sockets subscribed); latency = receive time - time of the
  ``project_update`` call, p50/p99 over all deliveries;
* *everyone*: one ``project_update`` of the shared project; time until the last of the N sockets is
  notified;
* every socket must get exactly one ``cloud.data_update`` per change that concerns it: missing ones
  are *drops*, extra ones *dups*.

Scenarios are repeated ``--repeats`` times; the table shows medians. Timestamps are
``time.monotonic()`` (CLOCK_MONOTONIC, shared by all processes of the machine).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import multiprocessing as mp
import os
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SOCKETS_PER_USER = 20
OWN, SHARED, OTHER = 0, 1, 2
CLK_TCK = os.sysconf("SC_CLK_TCK")
CONNECT_PHASE_SECONDS = 600


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def raise_nofile() -> None:
    """10,000 sockets: lift the soft limit on open files to the hard limit."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(pid: int) -> float:
    """CPU time of all the process's threads, in ns resolution (schedstat), not clock ticks."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as stat:
                total += int(stat.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass  # a thread that just ended
    return total / 1e9


def machine_busy_seconds() -> float:
    """CPU seconds spent by the whole machine, all cores (not idle, not iowait)."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / CLK_TCK


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def median(values: list[float]) -> float:
    values = [v for v in values if v == v]
    return statistics.median(values) if values else float("nan")


# --- client processes --------------------------------------------------------------------------


class Client:
    """One client process: its share of the sockets, driven by the coordinator over a pipe."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.sockets: dict[int, Any] = {}
        self.readers: dict[int, asyncio.Task[None]] = {}
        self.events: list[tuple[int, int, float]] = []  # (socket id, OWN/SHARED/OTHER, monotonic time)
        self.closed: list[int] = []
        self.results: dict[int, asyncio.Future[None]] = {}
        self.stage: dict[int, str] = {}  # how far each socket got, for failure reports
        self.lag_max = 0.0  # the event loop's worst lateness since the last collect, seconds

    async def watch_lag(self) -> None:
        """How late this process's event loop runs a 5 ms timer: a busy or descheduled client delays
        every receive timestamp it takes, which would show as notify latency."""
        while True:
            due = time.monotonic() + 0.005
            await asyncio.sleep(0.005)
            self.lag_max = max(self.lag_max, time.monotonic() - due)

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        self.watcher = loop.create_task(self.watch_lag())  # runs until the process exits
        while True:
            command, *args = await loop.run_in_executor(None, self.conn.recv)
            if command == "connect":
                self.conn.send(await self.connect_all(*args))
            elif command == "count":
                self.conn.send(sum(1 for event in self.events if event[0] >= 0))
            elif command == "collect":
                events, self.events = self.events, []
                closed, self.closed = self.closed, []
                lag, self.lag_max = self.lag_max, 0.0
                self.conn.send((events, closed, lag))
            elif command == "churn":
                self.churn_task = asyncio.get_running_loop().create_task(self.churn(*args))
                self.conn.send("started")
            elif command == "churn_wait":
                self.conn.send(await self.churn_task)
            elif command == "close":
                await self.close_all()
                self.conn.send("closed")
            elif command == "exit":
                return

    async def connect_all(self, plan: list[tuple[int, str, str, str, int, int]], concurrency: int, timeout: float):
        gate = asyncio.Semaphore(concurrency)
        failures: list[tuple[int, str]] = []

        async def one(sid: int, url: str, cookie: str, origin: str, own: int, shared: int) -> None:
            async with gate:
                self.stage[sid] = "opening"
                try:
                    await asyncio.wait_for(self.open(sid, url, cookie, origin, own, shared), timeout)
                except Exception as error:  # noqa: BLE001 - reported to the coordinator
                    failures.append((sid, f"{type(error).__name__} while {self.stage.get(sid)}: {error}"[:200]))
                    ws = self.sockets.pop(sid, None)
                    if ws is not None:
                        with contextlib.suppress(Exception):
                            await ws.close()

        await asyncio.gather(*(one(*entry) for entry in plan))
        self.stage.clear()
        # The harness's own sockets and buffers are long-lived: keep full collections off the clock.
        gc.collect()
        gc.freeze()
        return sorted(self.sockets), failures

    async def churn(self, plan: list[tuple[int, str, str, str, int, int]], rate: float, seconds: float, hold: float):
        """Sockets that come and go while the scenario runs (page loads): open, subscribe, stay, close."""
        opened = failed = 0
        tasks: set[asyncio.Task[None]] = set()

        async def visit(entry: tuple[int, str, str, str, int, int]) -> None:
            nonlocal opened, failed
            sid = entry[0]
            try:
                await asyncio.wait_for(self.open(*entry), 30)
                opened += 1
                await asyncio.sleep(hold)
            except Exception:  # noqa: BLE001 - counted
                failed += 1
            ws = self.sockets.pop(sid, None)
            if ws is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(ws.close(), 5)
            reader = self.readers.pop(sid, None)
            if reader is not None:
                reader.cancel()
            self.results.pop(sid, None)

        started = time.monotonic()
        i = 0
        while time.monotonic() - started < seconds:
            _sid, *rest = plan[i % len(plan)]
            task = asyncio.get_running_loop().create_task(visit((-1 - i, *rest)))  # type: ignore[arg-type]
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            i += 1
            await asyncio.sleep(max(0.0, started + i / rate - time.monotonic()))
        if tasks:
            await asyncio.wait(tasks, timeout=hold + 40)
        return opened, failed

    async def open(self, sid: int, url: str, cookie: str, origin: str, own: int, shared: int) -> None:
        from websockets.asyncio.client import connect

        ws = await connect(
            url,
            additional_headers={"Cookie": cookie, "Origin": origin},
            compression=None,
            ping_interval=None,  # the server pings; its pongs are answered by the library
            open_timeout=None,  # bounded by connect_all's wait_for
            max_queue=None,
        )
        self.sockets[sid] = ws
        self.stage[sid] = "subscribing (no answer yet)"
        loop = asyncio.get_running_loop()
        subscribed = self.results[sid] = loop.create_future()
        self.readers[sid] = loop.create_task(self.read(sid, ws))
        for request_id, project in (("own", own), ("shared", shared)):
            await ws.send(
                json.dumps(
                    {
                        "type": "cloud.run",
                        "function": "getProject",
                        "params": {"id": project},
                        "request_id": request_id,
                        "realtime": True,
                    }
                )
            )
        await subscribed

    async def read(self, sid: int, ws: Any) -> None:
        monotonic = time.monotonic
        pending = {"own", "shared"}
        try:
            async for text in ws:
                now = monotonic()
                message = json.loads(text)
                kind = message.get("type")
                if kind == "cloud.data_update":
                    request_id = message.get("request_id")
                    self.events.append(
                        (sid, OWN if request_id == "own" else SHARED if request_id == "shared" else OTHER, now)
                    )
                elif kind == "cloud.result" and pending:
                    future = self.results.get(sid)
                    if message.get("status") != 200:
                        if future is not None and not future.done():
                            future.set_exception(RuntimeError(f"subscribe failed: {text[:150]}"))
                        continue
                    pending.discard(message.get("request_id"))
                    self.stage[sid] = f"subscribing (waiting for {sorted(pending)})"
                    if not pending and future is not None and not future.done():
                        future.set_result(None)
                elif kind != "pong":
                    self.events.append((sid, OTHER, now))
        except Exception:  # noqa: BLE001,S110 - a closed socket is reported below
            pass
        future = self.results.get(sid)
        if future is not None and not future.done():
            future.set_exception(RuntimeError("socket closed before subscribing"))
        self.closed.append(sid)

    async def close_all(self) -> None:
        gate = asyncio.Semaphore(200)

        async def one(ws: Any) -> None:
            async with gate:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(ws.close(), 5)

        sockets, self.sockets = list(self.sockets.values()), {}
        await asyncio.gather(*(one(ws) for ws in sockets))
        for task in self.readers.values():
            task.cancel()
        self.readers = {}


def client_main(conn: Any) -> None:
    raise_nofile()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the coordinator stops us
    try:
        import uvloop

        uvloop.run(Client(conn).serve())
    except ImportError:
        asyncio.run(Client(conn).serve())


# --- the coordinator -----------------------------------------------------------------------------


@dataclass
class Fixture:
    users: list[Any]
    projects: list[Any]  # projects[i] is owned by users[i]
    shared: Any
    cookies: list[str] = field(default_factory=list)


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]


@dataclass
class SizeResult:
    n: int
    connected: int = 0
    connect_failures: int = 0
    connect_s: float = float("nan")
    kb_per_conn: float = float("nan")
    targeted: list[dict[str, float]] = field(default_factory=list)
    everyone: list[dict[str, float]] = field(default_factory=list)
    closed: int = 0


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.servers: list[Server] = []
        self.clients: list[tuple[Any, Any]] = []  # (process, pipe)
        self.temp = Path(tempfile.mkdtemp(prefix="synchronise-bench-", dir=args.tmp_dir))
        self.pg_admin_url: str | None = None
        self.pg_name: str | None = None
        self.env = self.make_env()

    # -- environment, database, data --

    def make_env(self) -> dict[str, str]:
        env = dict(os.environ)
        for name in ("DATABASE_TEST_NAME", "SECRET_KEY"):
            env.pop(name, None)
        env.update(
            DJANGO_SETTINGS_MODULE="synchronise.settings",
            SYNCHRONISE_DATA_DIR=str(self.temp),
            REDIS_URL=self.args.redis_url,
            DEBUG="false",
            PYTHONUNBUFFERED="1",
            SECRET_KEY="bench-only-" + uuid.uuid4().hex,
            ALLOWED_HOSTS="127.0.0.1,localhost",
        )
        if self.args.database_url:
            env["DATABASE_URL"] = self.create_pg_database(self.args.database_url)
        else:
            env["DATABASE_URL"] = f"sqlite:///{self.temp / 'bench.sqlite3'}"
        return env

    def create_pg_database(self, url: str) -> str:
        import psycopg

        self.pg_admin_url = url.replace("postgres://", "postgresql://", 1)
        self.pg_name = f"synchronise_bench_{os.getpid()}"
        with psycopg.connect(self.pg_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.pg_name}"')
            conn.execute(f'CREATE DATABASE "{self.pg_name}"')
        parts = urllib.parse.urlsplit(url)
        return urllib.parse.urlunsplit(parts._replace(path="/" + self.pg_name))

    def drop_pg_database(self) -> None:
        if self.pg_admin_url and self.pg_name:
            import psycopg

            with psycopg.connect(self.pg_admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')

    def flush_redis(self) -> None:
        import redis

        redis.Redis.from_url(self.args.redis_url).flushdb()

    def setup_django(self) -> None:
        log(f"migrating a throwaway database ({self.env['DATABASE_URL'].split(':', 1)[0]}) in {self.temp}")
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=self.env, check=True
        )
        os.environ.update(self.env)
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()

    def make_fixture(self, n: int) -> Fixture:
        """N/20 users, one project each, and a shared project of which all are members."""
        from django.contrib.auth.hashers import make_password
        from django.db import transaction

        from accounts.models import Membership, Permission, Project, User

        count = max(1, n // SOCKETS_PER_USER)
        tag = uuid.uuid4().hex[:6]
        password = make_password(None)
        with transaction.atomic():
            users = User.objects.bulk_create(
                [
                    User(email=f"bench-{tag}-{i}@example.test", name=f"Bench {i}", password=password)
                    for i in range(count)
                ]
            )
            projects = Project.objects.bulk_create([Project(name=f"Bench {tag} {i}") for i in range(count)])
            shared = Project.objects.create(name=f"Bench {tag} shared", community=True)
            Membership.objects.bulk_create(
                [Membership(project=p, user=u, permission=Permission.OWN) for u, p in zip(users, projects, strict=True)]
                + [
                    Membership(project=shared, user=u, permission=Permission.OWN if i == 0 else Permission.EDIT)
                    for i, u in enumerate(users)
                ]
            )
        if users[0].pk is None:  # backends that do not return ids from bulk_create
            users = list(User.objects.filter(email__startswith=f"bench-{tag}-").order_by("pk"))
            projects = list(
                Project.objects.filter(name__startswith=f"Bench {tag} ").exclude(pk=shared.pk).order_by("pk")
            )
        return Fixture(users=users, projects=projects, shared=shared)

    def mint_sessions(self, fixture: Fixture) -> None:
        from django.conf import settings
        from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
        from django.utils.module_loading import import_string

        store_class = import_string(settings.SESSION_ENGINE + ".SessionStore")
        fixture.cookies = []
        for user in fixture.users:
            store = store_class()
            store[SESSION_KEY] = str(user.pk)
            store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
            store[HASH_SESSION_KEY] = user.get_session_auth_hash()
            store.save()
            fixture.cookies.append(f"{settings.SESSION_COOKIE_NAME}={store.session_key}")

    # -- processes --

    def start_servers(self) -> None:
        env = dict(self.env)
        for item in self.args.server_env:
            name, _, value = item.partition("=")
            env[name] = value
        for _ in range(self.args.servers):
            port = free_port()
            argv = [
                sys.executable, "-m", "uvicorn", "synchronise.asgi:application",
                "--host", "127.0.0.1", "--port", str(port),
                # as synchronise/run.py starts the web process:
                "--ws", "websockets-sansio", "--ws-per-message-deflate", "false", "--lifespan", "off",
                "--no-access-log", "--log-level", "warning",
                *self.args.server_arg,
            ]  # fmt: skip
            process = subprocess.Popen(argv, cwd=ROOT, env=env, preexec_fn=raise_nofile, start_new_session=True)
            self.servers.append(Server(f"http://127.0.0.1:{port}", process))
        for server in self.servers:
            self.wait_for_http(server)
        log("  servers: " + ", ".join(f"{s.url} (pid {s.process.pid})" for s in self.servers))
        # Warm up: the first socket imports and starts the hub; keep that out of the per-connection memory.
        from websockets.sync.client import connect

        for server in self.servers:
            cookie = self.fixture.cookies[0]
            origin = server.url
            with connect(
                server.url.replace("http://", "ws://") + "/ws/",
                additional_headers={"Cookie": cookie, "Origin": origin},
                open_timeout=10,
            ) as ws:
                ws.send(
                    json.dumps(
                        {
                            "type": "cloud.run",
                            "function": "getProject",
                            "params": {"id": self.fixture.shared.pk},
                            "request_id": "w",
                            "realtime": True,
                        }
                    )
                )
                reply = json.loads(ws.recv(timeout=10))
                if reply.get("status") != 200:
                    raise RuntimeError(f"warm-up call failed on {server.url}: {reply}")
        time.sleep(0.5)

    def wait_for_http(self, server: Server, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(f"server {server.url} exited with {server.process.returncode}")
            try:
                with urllib.request.urlopen(server.url + "/healthz", timeout=2):  # noqa: S310 - http://127.0.0.1
                    return
            except urllib.error.HTTPError:
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"server {server.url} did not answer within {timeout} s")

    def stop_servers(self) -> None:
        for server in self.servers:
            if server.process.poll() is None:
                server.process.terminate()
        for server in self.servers:
            try:
                server.process.wait(10)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait()
        self.servers = []

    def start_clients(self) -> None:
        context = mp.get_context("spawn")
        for _ in range(self.args.clients):
            parent, child = context.Pipe()
            process = context.Process(target=client_main, args=(child,), daemon=True)
            process.start()
            self.clients.append((process, parent))

    def ask_clients(self, *command: Any, timeout: float) -> list[Any]:
        for _process, conn in self.clients:
            conn.send(command)
        replies = []
        deadline = time.monotonic() + timeout
        for process, conn in self.clients:
            if not conn.poll(max(0.0, deadline - time.monotonic())):
                raise RuntimeError(f"client {process.pid} did not answer {command[0]!r} within {timeout} s")
            replies.append(conn.recv())
        return replies

    def stop_clients(self) -> None:
        for _process, conn in self.clients:
            with contextlib.suppress(Exception):
                conn.send(("exit",))
        for process, _conn in self.clients:
            process.join(5)
            if process.is_alive():
                process.terminate()
                process.join(5)
        self.clients = []

    def server_rss(self) -> int:
        return sum(rss_bytes(s.process.pid) for s in self.servers)

    def server_cpu(self) -> float:
        return sum(cpu_seconds(s.process.pid) for s in self.servers)

    def client_cpu(self) -> float:
        return sum(cpu_seconds(p.pid) for p, _conn in self.clients if p.pid)

    def load_mark(self) -> tuple[float, float, float]:
        """(wall, machine CPU, this benchmark's CPU): to tell how busy the rest of the machine was."""
        ours = self.server_cpu() + self.client_cpu()
        ours += sum(os.times()[:2])
        return time.monotonic(), machine_busy_seconds(), ours

    @staticmethod
    def other_load(mark: tuple[float, float, float], now: tuple[float, float, float]) -> float:
        """Cores kept busy by other processes (other work on the machine, Redis) between two marks."""
        wall = now[0] - mark[0]
        return ((now[1] - mark[1]) - (now[2] - mark[2])) / wall if wall > 0 else float("nan")

    def check_servers(self) -> None:
        for server in self.servers:
            if server.process.poll() is not None:
                raise RuntimeError(f"server {server.url} died with {server.process.returncode}")

    # -- one size --

    def run_size(self, n: int) -> SizeResult:
        result = SizeResult(n)
        self.closed_count = 0
        self.flush_redis()
        self.fixture = self.make_fixture(n)
        self.mint_sessions(self.fixture)
        users = len(self.fixture.users)
        log(
            f"N={n}: {users} users x {SOCKETS_PER_USER} sockets,"
            f" {self.args.servers} servers, {self.args.clients} client processes"
        )
        self.start_servers()
        self.start_clients()
        try:
            before = self.server_rss()
            plans: list[list[tuple[int, str, str, str, int, int]]] = [[] for _ in self.clients]
            for sid in range(n):
                server = self.servers[sid % len(self.servers)]
                user = (sid // SOCKETS_PER_USER) % users
                plans[sid % len(self.clients)].append(
                    (
                        sid,
                        server.url.replace("http://", "ws://") + "/ws/",
                        self.fixture.cookies[user],
                        server.url,
                        self.fixture.projects[user].pk,
                        self.fixture.shared.pk,
                    )
                )
            concurrency = max(1, self.args.connect_concurrency // len(self.clients))
            started = time.monotonic()
            for (_process, conn), plan in zip(self.clients, plans, strict=True):
                conn.send(("connect", plan, concurrency, self.args.connect_timeout))
            replies = []
            for process, conn in self.clients:
                if not conn.poll(max(0.0, started + CONNECT_PHASE_SECONDS - time.monotonic())):
                    raise RuntimeError(f"client {process.pid} did not finish connecting")
                replies.append(conn.recv())
            result.connect_s = time.monotonic() - started
            self.connected = {sid for ok, _failures in replies for sid in ok}
            failures = [f for _ok, fs in replies for f in fs]
            result.connected, result.connect_failures = len(self.connected), len(failures)
            for sid, reason in failures[:5]:
                log(f"  socket {sid} failed to connect: {reason}")
            self.check_servers()
            time.sleep(1.0)  # let the servers settle (lazy allocations, the last sends) before measuring
            result.kb_per_conn = (self.server_rss() - before) / max(1, len(self.connected)) / 1024
            log(
                f"  connected {len(self.connected)}/{n} in {result.connect_s:.2f} s;"
                f" servers +{(self.server_rss() - before) / 2**20:.0f} MiB = {result.kb_per_conn:.1f} KB/conn"
            )
            self.collect()  # discard anything from the connect phase
            for repeat in range(self.args.repeats):
                t = self.targeted()
                result.targeted.append(t)
                churn = (
                    f", churn {t['churn_opened']:.0f} sockets ({t['churn_failed']:.0f} failed)"
                    if self.args.churn
                    else ""
                )
                log(
                    f"  targeted #{repeat + 1}: {t['changes']:.0f} changes at {t['rate']:.0f}/s;"
                    f" from publish p50 {t['fanout_p50_ms']:.1f} p99 {t['fanout_p99_ms']:.1f} ms;"
                    f" from change p50 {t['p50_ms']:.1f} p99 {t['p99_ms']:.1f} max {t['max_ms']:.1f} ms"
                    f" (project_update call p50 {t['publish_p50_ms']:.1f} ms);"
                    f" drops {t['drops']:.0f}, dups {t['dups']:.0f};"
                    f" server CPU {t['server_cpu_pct']:.0f}%, RSS {t['server_rss_growth_mib']:+.0f} MiB;"
                    f" client loop lag max {t['client_lag_ms']:.0f} ms; other load {t['other_load']:.2f} cores{churn}"
                )
                e = self.everyone()
                result.everyone.append(e)
                log(
                    f"  everyone #{repeat + 1}: last of {e['expected']:.0f} after {e['last_s'] * 1000:.0f} ms"
                    f" (from publish {e['fanout_last_s'] * 1000:.0f} ms; p50 {e['p50_s'] * 1000:.0f} ms);"
                    f" drops {e['drops']:.0f}, dups {e['dups']:.0f};"
                    f" CPU per message: servers {e['server_cpu_us_per_msg']:.0f} µs,"
                    f" clients {e['client_cpu_us_per_msg']:.0f} µs"
                )
                self.check_servers()
            result.closed = self.closed_count
            with contextlib.suppress(Exception):
                self.ask_clients("close", timeout=60)
        finally:
            self.stop_clients()
            self.stop_servers()
        return result

    closed_count = 0

    def collect(self) -> dict[int, list[tuple[int, float]]]:
        """Events since the last collect, per socket: [(kind, time)]."""
        by_socket: dict[int, list[tuple[int, float]]] = {}
        self.client_lag = 0.0
        for events, closed, lag in self.ask_clients("collect", timeout=60):
            self.client_lag = max(self.client_lag, lag)
            self.closed_count += sum(1 for sid in closed if sid >= 0)
            for sid, kind, when in events:
                if sid >= 0:  # negative: churn sockets, not counted
                    by_socket.setdefault(sid, []).append((kind, when))
        for entries in by_socket.values():
            entries.sort(key=lambda e: e[1])
        return by_socket

    def wait_for(self, expected: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sum(self.ask_clients("count", timeout=30)) >= expected:
                break
            time.sleep(0.1)
        time.sleep(self.args.grace)  # late duplicates

    def targeted(self) -> dict[str, float]:
        users, projects = self.fixture.users, self.fixture.projects
        # Users with at least one connected socket (all of them unless connects failed).
        online: dict[int, list[int]] = {}
        for sid in self.connected:
            online.setdefault((sid // SOCKETS_PER_USER) % len(users), []).append(sid)
        candidates = sorted(online)
        self.round = getattr(self, "round", 0) + 1
        rng = random.Random(self.args.seed * 1000 + self.round)  # noqa: S311 - not for security
        total = round(self.args.rate * self.args.seconds)
        schedule = [(i, rng.choice(candidates)) for i in range(total)]
        cpu0 = self.server_cpu()
        mark = self.load_mark()
        rss0 = self.server_rss()
        if self.args.churn > 0:
            self.start_churn()
        done, sent = self.publish(schedule, lambda i, user: (projects[user], users[user], f"Bench project {user} #{i}"))
        started = done[0][2] if done else time.monotonic()
        elapsed = done[-1][2] - started if len(done) > 1 else float("nan")
        changes: dict[int, list[float]] = {}
        for _i, user, t0, _t1 in done:
            changes.setdefault(user, []).append(t0)
        publish_ms = [(t1 - t0) * 1000 for _i, _u, t0, t1 in done]
        # One group_send per change, in the order of the changes: the time each change left for the servers.
        send_time = (
            {(i, user): t for (i, user, _t0, _t1), t in zip(done, sent, strict=False)} if len(sent) == len(done) else {}
        )
        sends: dict[int, list[float]] = {}
        for i, user, _t0, _t1 in done:
            if send_time:
                sends.setdefault(user, []).append(send_time[(i, user)])
        expected = sum(len(changes.get(u, ())) * len(sids) for u, sids in online.items())
        churned = self.ask_clients("churn_wait", timeout=120) if self.args.churn > 0 else [(0, 0)]
        self.wait_for(expected, timeout=10 + self.args.seconds)
        cpu = self.server_cpu() - cpu0
        other = self.other_load(mark, self.load_mark())
        wall = time.monotonic() - started
        by_socket = self.collect()
        latencies: list[float] = []
        fanout: list[float] = []
        drops = dups = 0
        for user, sids in online.items():
            published = changes.get(user, [])
            left = sends.get(user, [])
            for sid in sids:
                entries = by_socket.pop(sid, [])
                got = [when for kind, when in entries if kind == OWN]
                dups += len(entries) - len(got)  # anything else is unexpected here
                drops += max(0, len(published) - len(got))
                dups += max(0, len(got) - len(published))
                # Per socket, updates arrive in publish order: pair the k-th received with the k-th change.
                latencies.extend(r - p for p, r in zip(published, got, strict=False))
                fanout.extend(r - p for p, r in zip(left, got, strict=False))
        dups += sum(len(entries) for entries in by_socket.values())
        return {
            "changes": total,
            "rate": (len(done) - 1) / elapsed if elapsed > 0 else float("nan"),
            "publish_p50_ms": percentile(publish_ms, 50),
            "publish_p99_ms": percentile(publish_ms, 99),
            "deliveries": len(latencies),
            "p50_ms": percentile(latencies, 50) * 1000,
            "p99_ms": percentile(latencies, 99) * 1000,
            "max_ms": max(latencies, default=float("nan")) * 1000,
            "fanout_p50_ms": percentile(fanout, 50) * 1000,
            "fanout_p99_ms": percentile(fanout, 99) * 1000,
            "drops": drops,
            "dups": dups,
            "server_cpu_pct": cpu / wall * 100,
            "other_load": other,
            "server_rss_growth_mib": (self.server_rss() - rss0) / 2**20,
            "client_lag_ms": self.client_lag * 1000,
            "churn_opened": sum(o for o, _f in churned),
            "churn_failed": sum(f for _o, f in churned),
        }

    def publish(
        self, schedule: list[tuple[int, int]], change: Any
    ) -> tuple[list[tuple[int, int, float, float]], list[float]]:
        """Make the changes of ``schedule`` ([(i, user)], change i due at i / rate) as the web process does.

        A sync view under ASGI runs on the one thread of ``sync_to_async`` and publishes after commit with
        ``async_to_sync(group_send)`` back on the server's event loop, reusing its Redis connections. So
        here: an event loop starts each ``project_update`` on time (a slow one does not delay the next
        start) on that thread; the changes run one after the other, in order. Returns [(i, user, call time,
        return time)] in order, and the time of each ``group_send`` call.
        """
        from asgiref.sync import sync_to_async
        from channels.layers import get_channel_layer

        from accounts import services

        layer = get_channel_layer()
        sent: list[float] = []
        original = layer.group_send

        async def timed_group_send(group: str, message: dict[str, Any]) -> None:
            sent.append(time.monotonic())
            await original(group, message)

        def update(i: int, user: int) -> None:
            project, actor, name = change(i, user)
            services.project_update(project=project, actor=actor, name=name)

        async def run() -> list[tuple[int, int, float, float]]:
            call = sync_to_async(update)  # thread_sensitive, as Django runs sync views
            done: list[tuple[int, int, float, float]] = []

            async def one(i: int, user: int) -> None:
                t0 = time.monotonic()
                await call(i, user)
                done.append((i, user, t0, time.monotonic()))

            started = time.monotonic() + 0.05
            tasks = []
            for i, user in schedule:
                delay = started + i / self.args.rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(i, user)))
            await asyncio.wait_for(asyncio.gather(*tasks), self.args.seconds * 2 + 30)
            await sync_to_async(close_db)()
            return sorted(done)

        def close_db() -> None:
            from django.db import connection

            connection.close()

        layer.group_send = timed_group_send
        try:
            done = asyncio.run(run())
        finally:
            del layer.group_send
        return done, sorted(sent)

    def start_churn(self) -> None:
        """Extra sockets (not counted) opening and closing during the targeted run, spread over the clients."""
        users = len(self.fixture.users)
        for k, (_process, conn) in enumerate(self.clients):
            plan = []
            for j in range(64):
                user = (k * 64 + j) % users
                server = self.servers[(k + j) % len(self.servers)]
                plan.append((0, server.url.replace("http://", "ws://") + "/ws/", self.fixture.cookies[user], server.url,
                             self.fixture.projects[user].pk, self.fixture.shared.pk))  # fmt: skip
            conn.send(("churn", plan, self.args.churn / len(self.clients), self.args.seconds, self.args.churn_hold))
        for process, conn in self.clients:
            if not conn.poll(30) or conn.recv() != "started":
                raise RuntimeError(f"client {process.pid} did not start churning")

    def everyone(self) -> dict[str, float]:
        owner = self.fixture.users[0]
        time.sleep(0.5)
        cpu0 = self.server_cpu()
        client_cpu0 = self.client_cpu()
        done, sent = self.publish(
            [(0, 0)], lambda i, user: (self.fixture.shared, owner, f"Shared {uuid.uuid4().hex[:8]}")
        )
        t0 = done[0][2]
        t_send = sent[0] if len(sent) == 1 else float("nan")
        expected = len(self.connected)
        self.wait_for(expected, timeout=30)
        client_cpu = self.client_cpu() - client_cpu0
        cpu = self.server_cpu() - cpu0
        by_socket = self.collect()
        received: list[float] = []
        drops = dups = 0
        for sid in self.connected:
            entries = by_socket.pop(sid, [])
            got = [when for kind, when in entries if kind == SHARED]
            dups += len(entries) - len(got) + max(0, len(got) - 1)
            if got:
                received.append(got[0] - t0)
            else:
                drops += 1
        dups += sum(len(entries) for entries in by_socket.values())
        return {
            "expected": expected,
            "last_s": max(received) if received and not drops else float("nan"),
            "p50_s": percentile(received, 50),
            "fanout_last_s": max(received) + t0 - t_send if received and not drops else float("nan"),
            "drops": drops,
            "dups": dups,
            "server_cpu_us_per_msg": cpu / max(1, len(received)) * 1e6,
            "client_cpu_us_per_msg": client_cpu / max(1, len(received)) * 1e6,
        }

    # -- all of it --

    def run(self) -> list[SizeResult]:
        self.flush_redis()
        self.setup_django()
        results = []
        for n in self.args.sizes:
            results.append(self.run_size(n))
        return results

    def cleanup(self) -> None:
        with contextlib.suppress(Exception):
            self.stop_clients()
        with contextlib.suppress(Exception):
            self.stop_servers()
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        with contextlib.suppress(Exception):
            self.drop_pg_database()
        with contextlib.suppress(Exception):
            self.flush_redis()
        shutil.rmtree(self.temp, ignore_errors=True)


def summary(r: SizeResult) -> dict[str, float]:
    """Medians over the runs of each scenario; drops and duplicates summed over all of them."""
    return {
        "pub_p50": median([t["fanout_p50_ms"] for t in r.targeted]),
        "pub_p99": median([t["fanout_p99_ms"] for t in r.targeted]),
        "chg_p50": median([t["p50_ms"] for t in r.targeted]),
        "chg_p99": median([t["p99_ms"] for t in r.targeted]),
        "everyone_ms": median([e["last_s"] * 1000 for e in r.everyone]),
        "everyone_pub_ms": median([e["fanout_last_s"] * 1000 for e in r.everyone]),
        "drops": sum(t["drops"] for t in r.targeted) + sum(e["drops"] for e in r.everyone),
        "dups": sum(t["dups"] for t in r.targeted) + sum(e["dups"] for e in r.everyone),
        "us_per_msg": median([e["server_cpu_us_per_msg"] for e in r.everyone]),
        "client_us_per_msg": median([e.get("client_cpu_us_per_msg", float("nan")) for e in r.everyone]),
        "rate": median([t["rate"] for t in r.targeted]),
        "other_load": median([t["other_load"] for t in r.targeted]),
    }


def table(results: list[SizeResult]) -> str:
    lines = [
        "| N | connect all (s) | server KB/conn | targeted p50 / p99 from publish (ms) "
        "| targeted p50 / p99 from change (ms) | everyone: last socket (ms) | drops / dups |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        m = summary(r)
        failed = f" ({r.connect_failures} failed)" if r.connect_failures else ""
        lines.append(
            f"| {r.n:,}{failed} | {r.connect_s:.1f} | {r.kb_per_conn:.0f} | {m['pub_p50']:.1f} / {m['pub_p99']:.1f} "
            f"| {m['chg_p50']:.1f} / {m['chg_p99']:.1f} | {m['everyone_ms']:.0f} | {m['drops']:.0f} / {m['dups']:.0f} |"
        )
    return "\n".join(lines)


def detail(results: list[SizeResult]) -> str:
    lines = []
    for r in results:
        m = summary(r)
        lines.append(
            f"N={r.n:,}: targeted at {m['rate']:.0f} changes/s, p99 per run from publish"
            f" {[round(t['fanout_p99_ms'], 1) for t in r.targeted]} ms, from change"
            f" {[round(t['p99_ms'], 1) for t in r.targeted]} ms; everyone per run"
            f" {[round(e['last_s'] * 1000) for e in r.everyone]} ms ({m['everyone_pub_ms']:.0f} from publish),"
            f" CPU per delivered message: servers {m['us_per_msg']:.0f} µs, clients {m['client_us_per_msg']:.0f} µs;"
            f" other load on the machine"
            f" {m['other_load']:.2f} cores; sockets closed by the servers: {r.closed}"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default="1000,5000,10000", help="comma-separated socket counts (default %(default)s)"
    )
    parser.add_argument("--servers", type=int, default=2, help="uvicorn processes (default %(default)s)")
    parser.add_argument("--clients", type=int, default=4, help="client processes (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each scenario (default %(default)s)")
    parser.add_argument("--rate", type=float, default=100, help="targeted changes per second (default %(default)s)")
    parser.add_argument("--seconds", type=float, default=20, help="targeted duration (default %(default)s)")
    parser.add_argument("--quick", action="store_true", help="N=1,000, 5 s targeted, 2 repeats")
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
                        help="a Redis database the bench may FLUSH (default %(default)s)")  # fmt: skip
    parser.add_argument("--database-url", default=None,
                        help="a PostgreSQL server (postgres://user@host:port/db) on which to create a temporary "
                             "database; default: SQLite in a temporary directory")  # fmt: skip
    shm = "/dev/shm"  # noqa: S108 - a private directory is made inside it
    parser.add_argument("--tmp-dir", default=shm if os.access(shm, os.W_OK) else None,
                        help="where the throwaway data directory (and SQLite file) goes; default: /dev/shm "
                             "(tmpfs), so disk flushes of the bench's own writes don't count as latency")  # fmt: skip
    parser.add_argument("--connect-concurrency", type=int, default=200, help="handshakes in flight, all clients")
    parser.add_argument(
        "--connect-timeout", type=float, default=60, help="seconds for one socket to connect and subscribe"
    )
    parser.add_argument("--grace", type=float, default=0.3, help="seconds to wait for late duplicates")
    parser.add_argument("--churn", type=float, default=0,
                        help="during targeted runs, extra (uncounted) sockets opened and closed per second, "
                             "as page loads do (default %(default)s)")  # fmt: skip
    parser.add_argument("--churn-hold", type=float, default=2.0, help="seconds each churn socket stays open")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for the server processes (to compare settings)")  # fmt: skip
    parser.add_argument("--server-arg", action="append", default=[], metavar="ARG",
                        help="extra uvicorn argument (repeatable), e.g. --server-arg=--loop=asyncio")  # fmt: skip
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--max-seconds", type=int, default=3600, help="abort the whole run after this long")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.seconds, args.repeats = "1000", 5.0, 2
    args.sizes = [int(s) for s in str(args.sizes).split(",") if s.strip()]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    raise_nofile()

    def on_alarm(signum: int, frame: Any) -> None:
        raise TimeoutError(f"the benchmark ran longer than {args.max_seconds} s")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(1))
    signal.alarm(args.max_seconds)
    bench = Bench(args)
    try:
        results = bench.run()
    finally:
        signal.alarm(0)
        bench.cleanup()
    print()
    print(
        f"Realtime fan-out: {args.servers} uvicorn processes, {args.clients} client processes, {os.cpu_count()} cores;"
        f" targeted {args.rate:g} changes/s for {args.seconds:g} s; medians of {args.repeats} runs"
    )
    print()
    print(table(results))
    print()
    print(detail(results))
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in results], indent=2))
    failed = any(
        sum(t["drops"] + t["dups"] for t in r.targeted)
        + sum(e["drops"] + e["dups"] for e in r.everyone)
        + r.connect_failures
        for r in results
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
