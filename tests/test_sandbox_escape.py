"""Escape attempts against the sandbox: every one must be blocked.

The probes do not go through the import allow-list (it is a contract, not a boundary): they reach
``os``, ``socket``, ``ctypes``… the classic way, through ``object.__subclasses__()``, exactly as an
attacker would. Where a layer is the only thing in the way, a second test runs the same probe in a
pool with that layer switched off and shows that the probe then *succeeds*: the assertions would
fail if the protection were missing. Real processes, no database.

The pools here use bubblewrap's namespaces when bwrap is installed (the default); where those hide
a file or a process the probes see ``ENOENT`` instead of ``EACCES``. The weak pools run without
bwrap, so that exactly the named layer is missing; tests/test_sandbox_namespaces.py covers bwrap.
"""

from __future__ import annotations

import errno
import json
import os
import platform
import re
import shutil
import socket
import sqlite3
import stat
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest
from django.conf import settings

from components.sandbox import Code, HttpRequest, HttpResponse, Job, Limits, Outcome, Pool

PROJECT = Path(settings.BASE_DIR)


def require_environment(met: bool, reason: str) -> None:
    """Skip the test when the machine lacks what it needs (``met`` false) — except in CI (``CI`` or
    ``SYNCHRONISE_REQUIRE_SERVICES`` set), where the environment is chosen and a probe that did not
    run is a failure, never a quiet skip."""
    if met:
        return
    if os.environ.get("CI") or os.environ.get("SYNCHRONISE_REQUIRE_SERVICES"):
        pytest.fail(f"{reason}: CI never skips the escape tests", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def _x86_64() -> None:
    require_environment(platform.machine() == "x86_64", "raw syscall numbers are x86_64 ones")


x86_64_only = pytest.mark.usefixtures("_x86_64")

# Prepended to every probe: the whole standard library already loaded in the zygote, and a helper
# that describes what happened (the errno name when the kernel said no).
PRELUDE = """
def _modules():
    for cls in ().__class__.__base__.__subclasses__():
        if cls.__name__ == "_wrap_close":
            return cls.__init__.__globals__["sys"].modules
M = _modules()
os, sys, io, ctypes, socket, signal, resource = (
    M["os"], M["sys"], M["io"], M["ctypes"], M["socket"], M["signal"], M["resource"])

def attempt(fn, *args):
    try:
        result = fn(*args)
    except BaseException as error:
        number = getattr(error, "errno", None)
        return M["errno"].errorcode.get(number, type(error).__name__) if number else type(error).__name__
    return "ok: " + repr(result)[:200]

def read(path, size=200):
    with io.open(path, "rb") as handle:
        return handle.read(size)

LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.syscall.restype = ctypes.c_long

def syscall(number, *args):
    result = LIBC.syscall(ctypes.c_long(number), *[ctypes.c_long(a) for a in args])
    if result < 0:
        raise OSError(ctypes.get_errno(), "syscall")
    return result
"""


def probe(pool: Pool, body: str, inputs: dict[str, Any] | None = None, **kwargs: Any) -> Outcome:
    code = PRELUDE + dedent(body)
    return pool.run(Job(code=code, inputs=inputs or {}, idempotency_key="probe"), **kwargs)


def results(outcome: Outcome) -> dict[str, Any]:
    assert outcome.ok, outcome.error
    assert outcome.outputs is not None
    return outcome.outputs


def blocked(value: str) -> bool:
    return not value.startswith("ok")


@pytest.fixture(scope="module")
def pool() -> Iterator[Pool]:
    pool = Pool()
    pool.start()
    assert pool.layers["uid"] == 65534 or os.geteuid() != 0
    assert pool.layers["landlock"]["filesystem"], pool.layers
    assert pool.layers["seccomp"], pool.layers
    yield pool
    pool.close()


@pytest.fixture(scope="module")
def weak_pools() -> Iterator[dict[str, Pool]]:
    """Pools with a layer switched off, for the tests that prove a probe works (and no namespaces,
    which would hide most of what the probes look for)."""
    pools = {
        "no landlock": Pool(allow_unsafe=True, bwrap="off", _testing_disable=("landlock",)),
        "no seccomp": Pool(allow_unsafe=True, bwrap="off", _testing_disable=("seccomp",)),
        "neither": Pool(allow_unsafe=True, bwrap="off", _testing_disable=("landlock", "seccomp")),
    }
    yield pools
    for each in pools.values():
        each.close()


def _world_readable(path: Path) -> bool:
    """Whether uid 65534 could read ``path`` by permissions alone (so only Landlock stops it)."""
    if path.stat().st_mode & stat.S_IROTH == 0:
        return False
    return all(parent.stat().st_mode & stat.S_IXOTH for parent in path.parents)


@pytest.fixture(scope="module")
def server_files() -> Iterator[dict[str, str]]:
    """Files a component must never read, including a world-readable SQLite database and canary."""
    data = Path(settings.DATA_DIR)
    data.mkdir(parents=True, exist_ok=True)
    database = data / "sandbox-canary.sqlite3"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE IF NOT EXISTS secret (value TEXT)")
        connection.execute("INSERT INTO secret VALUES ('canary-db-row')")
    database.chmod(0o644)
    canary_dir = Path(tempfile.mkdtemp(prefix="sandbox-canary-"))
    canary_dir.chmod(0o755)
    canary = canary_dir / "canary.txt"
    canary.write_text("canary-file")
    canary.chmod(0o644)
    files = {
        "shadow": "/etc/shadow",
        "passwd": "/etc/passwd",
        "settings": str(PROJECT / "synchronise" / "settings.py"),
        "sandbox source": str(PROJECT / "components" / "sandbox" / "pool.py"),
        "sqlite": str(database),
        "canary": str(canary),
    }
    if (PROJECT / "var" / "db.sqlite3").exists():
        files["var db"] = str(PROJECT / "var" / "db.sqlite3")
    yield files
    shutil.rmtree(canary_dir, ignore_errors=True)


READ_FILES = """
def run(inputs, ctx):
    found = {name: attempt(read, path) for name, path in inputs["files"].items()}
    found["list /"] = attempt(os.listdir, "/")
    found["list project"] = attempt(os.listdir, inputs["project"])
    found["python source"] = attempt(read, os.__file__)
    return found
"""


def test_it_cannot_read_server_files(pool: Pool, server_files: dict[str, str]) -> None:
    found = results(probe(pool, READ_FILES, {"files": server_files, "project": str(PROJECT)}))
    hidden = "ENOENT" if "mnt" in pool.layers["namespaces"] else "EACCES"  # not in the mount namespace at all
    expected = dict.fromkeys([*server_files, "list project"], hidden)
    assert found == {**expected, "list /": "EACCES", "python source": "EACCES"}, found  # those two exist either way


def test_the_file_probe_would_succeed_without_landlock(
    weak_pools: dict[str, Pool], server_files: dict[str, str]
) -> None:
    found = results(probe(weak_pools["no landlock"], READ_FILES, {"files": server_files, "project": str(PROJECT)}))
    readable = [name for name, path in server_files.items() if _world_readable(Path(path))]
    assert "canary" in readable  # the others count where this checkout is world-readable, as here
    for name in readable:
        assert found[name].startswith("ok"), (name, found[name])
    assert "canary-file" in found["canary"]
    assert found["list project"].startswith("ok")
    assert found["shadow"] == "EACCES"  # uid 65534 could not read it anyway


def test_it_cannot_write_files_anywhere(pool: Pool, server_files: dict[str, str]) -> None:
    found = results(
        probe(
            pool,
            """
            def run(inputs, ctx):
                def write(path):
                    with io.open(path, "w") as handle:
                        handle.write("x")
                return {path: attempt(write, path) for path in inputs["paths"]}
            """,
            {"paths": ["/tmp/sandbox-wrote", "/dev/shm/sandbox-wrote", server_files["canary"], "relative-file"]},
        )
    )
    assert all(value in ("EACCES", "EROFS", "ENOENT") for value in found.values()), found  # ENOENT: no /tmp
    assert not Path("/tmp/sandbox-wrote").exists()
    assert Path(server_files["canary"]).read_text() == "canary-file"


def test_the_environment_is_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_KEY", "canary-secret-key")
    monkeypatch.setenv("DATABASE_URL", "postgres://canary:canary@127.0.0.1/canary")
    fresh = Pool()  # started after the variables are set
    try:
        found = results(
            probe(
                fresh,
                """
                def run(inputs, ctx):
                    return {"environ": dict(os.environ), "getenv": os.getenv("SECRET_KEY"),
                            "proc": attempt(read, "/proc/self/environ", 100000)}
                """,
            )
        )
    finally:
        fresh.close()
    assert found["environ"] == {}
    assert found["getenv"] is None
    assert found["proc"] == "EACCES"
    assert "canary" not in json.dumps(found)


PROC = """
def run(inputs, ctx):
    parent, host = os.getppid(), inputs["host"]
    found = {}
    for pid in (parent, host, 1, "self"):
        for name in ("environ", "cmdline", "mem", "maps", "status"):
            found[f"{pid == parent and 'parent' or pid == host and 'host' or pid}/{name}"] = attempt(
                read, f"/proc/{pid}/{name}")
    found["list /proc"] = attempt(os.listdir, "/proc")
    return found
"""


def test_it_cannot_read_proc_of_the_zygote_or_the_host(pool: Pool) -> None:
    found = results(probe(pool, PROC, {"host": os.getpid()}))
    host = "ENOENT" if "pid" in pool.layers["namespaces"] else "EACCES"  # not in the sandbox's pid namespace
    assert found == {key: host if key.startswith("host/") else "EACCES" for key in found}, found


def test_the_proc_probe_would_succeed_without_landlock(weak_pools: dict[str, Pool]) -> None:
    found = results(probe(weak_pools["no landlock"], PROC, {"host": os.getpid()}))
    assert found["host/cmdline"].startswith("ok")
    assert "pytest" in found["host/cmdline"]
    assert found["list /proc"].startswith("ok")


@pytest.fixture
def listener() -> Iterator[int]:
    """A TCP server on loopback: what a component would love to reach (the database, Redis…)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(5)
    yield server.getsockname()[1]
    server.close()


NETWORK = """
def run(inputs, ctx):
    found = {}
    kinds = (("tcp4", socket.AF_INET, socket.SOCK_STREAM), ("udp4", socket.AF_INET, socket.SOCK_DGRAM),
             ("tcp6", socket.AF_INET6, socket.SOCK_STREAM), ("unix", socket.AF_UNIX, socket.SOCK_STREAM),
             ("netlink", socket.AF_NETLINK, socket.SOCK_RAW))
    for label, family, kind in kinds:
        found["socket " + label] = attempt(socket.socket, family, kind)
    found["socketpair"] = attempt(socket.socketpair)
    found["libc socket"] = attempt(lambda: LIBC.socket(2, 1, 0) if LIBC.socket(2, 1, 0) >= 0 else (_ for _ in ()).throw(
        OSError(ctypes.get_errno(), "socket")))
    def connect(host, port, family=socket.AF_INET):
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(2)
            s.connect((host, port))
            return "connected"
    for host in inputs["hosts"]:
        found["connect " + host] = attempt(connect, host, inputs["port"])
    found["connect postgres"] = attempt(connect, "127.0.0.1", 5432)
    found["connect ::ffff:127.0.0.1"] = attempt(connect, "::ffff:127.0.0.1", inputs["port"], socket.AF_INET6)
    for module in ("urllib.request", "http.client", "multiprocessing", "asyncio"):
        found["import " + module] = attempt(M["importlib"].import_module, module)
    return found
"""


LOOPBACK = ["127.0.0.1", "2130706433"]


def test_it_has_no_network_at_all(pool: Pool, listener: int) -> None:
    # Loopback targets only: if a layer regressed, a test must still never send a packet off this machine.
    found = results(probe(pool, NETWORK, {"port": listener, "hosts": LOOPBACK}))
    for key, value in found.items():
        assert blocked(value), (key, value)
        if key.startswith(("socket", "libc", "connect")):
            assert value == "EPERM", (key, value)  # seccomp: no socket is ever created
    # The modules that could speak HTTP are not even loadable (nothing to read them from).
    assert found["import urllib.request"] in ("EACCES", "ModuleNotFoundError")


def test_the_network_probe_would_succeed_without_seccomp_and_landlock(
    weak_pools: dict[str, Pool], listener: int
) -> None:
    # Loopback targets only: with the layers off, these probes really connect.
    only_landlock = results(probe(weak_pools["no seccomp"], NETWORK, {"port": listener, "hosts": LOOPBACK}))
    assert only_landlock["socket tcp4"].startswith("ok")  # seccomp was what refused the socket…
    if weak_pools["no seccomp"].layers["landlock"]["tcp"]:
        assert only_landlock["connect 127.0.0.1"] == "EACCES"  # …and Landlock (ABI 4+) refuses the connect
    nothing = results(probe(weak_pools["neither"], NETWORK, {"port": listener, "hosts": LOOPBACK}))
    assert nothing["connect 127.0.0.1"] == "ok: 'connected'"
    assert nothing["connect 2130706433"] == "ok: 'connected'"


def test_ctx_http_to_private_addresses_is_refused_by_the_host_guard(
    pool: Pool, listener: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``ctx.http`` is the only way out, and the host serves it through the SSRF guard."""
    from synchronise.lib import outbound
    from tests.fake_api import loopback_only

    leaked = loopback_only(monkeypatch)  # a guard that let one through must not send a packet out

    def serve(request: HttpRequest) -> HttpResponse:  # what components/code_runner.py does
        try:
            response = outbound.request(request.method, request.url, headers=request.headers, timeout=2)
        except outbound.OutboundError as error:
            return HttpResponse(status=0, headers={}, error=str(error))
        return HttpResponse(status=response.status, headers=dict(response.headers), body=response.content)

    urls = [
        f"http://127.0.0.1:{listener}/",
        f"http://2130706433:{listener}/",
        f"http://[::ffff:127.0.0.1]:{listener}/",
        "http://169.254.169.254/latest/meta-data/",
        f"http://localhost:{listener}/",
        "http://10.0.0.1/",
        f"http://0x7f000001:{listener}/",
    ]
    found = results(
        probe(
            pool,
            """
            def run(inputs, ctx):
                found = {}
                for url in inputs["urls"]:
                    try:
                        found[url] = "ok: %s" % ctx.http("GET", url).status
                    except ConnectionError as error:
                        found[url] = "refused: " + str(error)
                return found
            """,
            {"urls": urls},
            http=serve,
        )
    )
    assert all(value.startswith("refused") for value in found.values()), found
    assert leaked == []


FORKS = """
def run(inputs, ctx):
    found = {
        "os.fork": attempt(os.fork),
        "os.system": attempt(os.system, "id > /tmp/sandbox-pwned"),
        "os.posix_spawn": attempt(os.posix_spawn, "/bin/true", ["true"], {}),
        "subprocess": attempt(lambda: M["subprocess"].run(["/bin/true"]).returncode),
        "execv": attempt(os.execv, "/bin/sh", ["sh", "-c", "true"]),
        "thread": attempt(M["_thread"].start_new_thread, lambda: None, ()),
        "import multiprocessing": attempt(M["importlib"].import_module, "multiprocessing"),
    }
    return found
"""


def test_it_cannot_start_processes_or_threads(pool: Pool) -> None:
    found = results(probe(pool, FORKS))
    # system() reports a failed spawn as "exit status 127" (127 << 8 = 32512), without any process.
    assert found.pop("os.system") == "ok: 32512"
    for key, value in found.items():
        assert blocked(value), (key, value)
    assert found["os.fork"] == "EPERM"  # seccomp
    assert found["execv"] == "EPERM"
    assert found["thread"] == "RuntimeError"  # can't start new thread: clone refused
    assert not Path("/tmp/sandbox-pwned").exists()


def test_without_seccomp_the_process_limit_still_stops_a_fork(weak_pools: dict[str, Pool]) -> None:
    found = results(probe(weak_pools["no seccomp"], FORKS))
    assert found["os.fork"] == "EAGAIN"  # RLIMIT_NPROC = 0: the second, independent layer
    assert found["execv"] == "EACCES"  # Landlock: nothing may be executed


def test_a_fork_bomb_is_contained(pool: Pool) -> None:
    outcome = probe(
        pool,
        """
        def run(inputs, ctx):
            failures = 0
            for _ in range(2000):
                try:
                    if os.fork() == 0:
                        while True:
                            pass
                except OSError:
                    failures += 1
            return {"failures": failures}
        """,
    )
    assert outcome.outputs == {"failures": 2000}


@pytest.mark.parametrize(
    "body",
    [
        "x = bytearray(10 ** 10)",
        "x = []\n    while True:\n        x.append(' ' * 10 ** 6)",
        "x = 'ab'\n    while True:\n        x = x + x",
        "x = b'x' * (2 ** 40)",
    ],
)
def test_memory_bombs_stop_with_111(pool: Pool, body: str) -> None:
    outcome = probe(pool, f"def run(inputs, ctx):\n    {body}\n    return {{}}\n", limits=Limits(memory_mb=64))
    assert outcome.error is not None
    assert outcome.error["code"] == Code.MEMORY, outcome.error
    assert outcome.error["message"] == "memory limit of 64 MB exceeded"


def test_caught_memory_errors_leave_the_limit_in_place(pool: Pool) -> None:
    outcome = probe(
        pool,
        """
        def run(inputs, ctx):
            soft, hard = resource.getrlimit(resource.RLIMIT_AS)
            raised = attempt(resource.setrlimit, resource.RLIMIT_AS, (hard * 2, hard * 2))
            try:
                bytearray(200 * 1024 * 1024)
            except MemoryError:
                return {"raise limit": raised, "caught": True}
            return {"raise limit": raised, "caught": False}
        """,
        limits=Limits(memory_mb=64),
    )
    assert outcome.outputs == {"raise limit": "ValueError", "caught": True}  # Python's word for EPERM here


def test_an_infinite_loop_stops_at_the_cpu_limit_with_110(pool: Pool) -> None:
    started = time.monotonic()
    outcome = probe(
        pool, "def run(inputs, ctx):\n    while True:\n        pass\n", limits=Limits(cpu_seconds=1, wall_seconds=10)
    )
    assert outcome.error is not None
    assert outcome.error["code"] == Code.CPU_TIME, outcome.error
    assert time.monotonic() - started < 5


def test_ignoring_sigxcpu_does_not_help(pool: Pool) -> None:
    outcome = probe(
        pool,
        """
        def run(inputs, ctx):
            signal.signal(signal.SIGXCPU, signal.SIG_IGN)
            while True:
                pass
        """,
        limits=Limits(cpu_seconds=1, wall_seconds=10),
    )
    assert (outcome.error or {}).get("code") == Code.CPU_TIME, outcome.error


@pytest.mark.parametrize(
    "body",
    [
        "M['time'].sleep(60)",
        "os.read(3, 1)",  # waits for the host forever
        "M['select'].select([], [], [], 60)",
    ],
)
def test_a_job_that_waits_stops_at_the_wall_time_limit_with_109(pool: Pool, body: str) -> None:
    started = time.monotonic()
    outcome = probe(pool, f"def run(inputs, ctx):\n    {body}\n", limits=Limits(wall_seconds=1))
    assert outcome.error is not None
    assert outcome.error["code"] == Code.WALL_TIME
    assert time.monotonic() - started < 3


KILLS = """
def run(inputs, ctx):
    parent, host = os.getppid(), inputs["host"]
    found = {
        "kill zygote": attempt(os.kill, parent, signal.SIGKILL),
        "probe zygote": attempt(os.kill, parent, 0),
        "killpg": attempt(os.killpg, os.getpgrp(), signal.SIGKILL),
        "kill -1": attempt(os.kill, -1, signal.SIGKILL),
        "kill host": attempt(os.kill, host, signal.SIGKILL),
        "pidfd": attempt(os.pidfd_open, parent),
        "prlimit zygote": attempt(resource.prlimit, parent, resource.RLIMIT_NOFILE, (0, 0)),
        "renice zygote": attempt(os.setpriority, os.PRIO_PROCESS, parent, 19),
        "setsid": attempt(os.setsid),
        "setpgid": attempt(os.setpgid, 0, 0),
    }
    return found
"""


def test_it_cannot_kill_or_disturb_the_zygote_or_the_host(pool: Pool) -> None:
    zygote = pool.zygote_pid
    starts = pool.starts
    found = results(probe(pool, KILLS, {"host": os.getpid()}))
    assert found == dict.fromkeys(found, "EPERM"), found
    assert pool.zygote_pid == zygote
    assert pool.starts == starts
    assert results(probe(pool, "def run(inputs, ctx):\n    return {'alive': True}\n")) == {"alive": True}


def test_without_seccomp_landlock_still_scopes_signals(weak_pools: dict[str, Pool]) -> None:
    weak = weak_pools["no seccomp"]
    weak.start()
    require_environment(
        weak.layers["landlock"]["signals"],
        "Landlock scopes signals from ABI 6 on; below that seccomp alone refuses kill",
    )
    zygote = weak.zygote_pid
    found = results(
        probe(weak, "def run(inputs, ctx):\n    return {'kill': attempt(os.kill, os.getppid(), signal.SIGKILL)}\n")
    )
    assert found == {"kill": "EPERM"}
    assert weak.zygote_pid == zygote


def test_the_kill_probe_would_succeed_without_both_layers(weak_pools: dict[str, Pool]) -> None:
    weak = weak_pools["neither"]
    weak.start()
    first, starts = weak.zygote_pid, weak.starts
    outcome = probe(weak, "def run(inputs, ctx):\n    os.kill(os.getppid(), signal.SIGKILL)\n    return {}\n")
    assert outcome.ok  # the job itself survives…
    time.sleep(0.1)
    assert weak.zygote_pid != first  # …but the zygote does not (and is started again on demand)
    assert results(probe(weak, "def run(inputs, ctx):\n    return {'back': True}\n")) == {"back": True}
    assert weak.starts == starts + 1


@x86_64_only
def test_dangerous_system_calls_are_refused(pool: Pool) -> None:
    found = results(
        probe(
            pool,
            """
            def run(inputs, ctx):
                calls = {"ptrace attach": (101, 16, os.getppid(), 0, 0),
                         "process_vm_readv": (310, os.getppid(), 0, 0, 0, 0, 0),
                         "unshare user": (272, 0x10000000), "unshare net": (272, 0x40000000), "setns": (308, 0, 0),
                         "mount": (165, 0, 0, 0, 0, 0), "bpf": (321, 0, 0, 0), "userfaultfd": (323, 0),
                         "io_uring_setup": (425, 1, 0), "add_key": (248, 0, 0, 0, 0, 0), "keyctl": (250, 0, 0),
                         "shmget": (29, 0, 4096, 0o1666), "msgget": (68, 0, 0o1666), "semget": (64, 0, 1, 0o1666),
                         "perf_event_open": (298, 0, 0, -1, -1, 0), "execve": (59, 0, 0, 0), "clone3": (435, 0, 0),
                         "vfork": (58,), "memfd_create": (319, 0, 0), "setuid": (105, 0), "chroot": (161, 0)}
                return {name: attempt(syscall, *args) for name, args in calls.items()}
            """,
        )
    )
    assert found.pop("clone3") == "ENOSYS"
    assert found == dict.fromkeys(found, "EPERM"), found


def test_no_state_leaks_from_one_job_to_the_next(pool: Pool) -> None:
    first = results(
        probe(
            pool,
            """
            LEAK = "tenant-a-secret"
            def run(inputs, ctx):
                global LEAK
                M["json"].LEAKED = inputs["secret"]
                M["builtins"].LEAKED = inputs["secret"]
                M["sys"].modules["leak_module"] = inputs["secret"]
                M["random"].seed(1234)
                M["os"].environ["LEAKED"] = inputs["secret"]
                return {"wrote": attempt(lambda: io.open("/tmp/sandbox-leak", "w").write(inputs["secret"])),
                        "random": M["random"].random()}
            """,
            {"secret": "tenant-a-secret"},
        )
    )
    assert first["wrote"] in ("EACCES", "ENOENT")  # ENOENT: the mount namespace has no /tmp
    second = results(
        probe(
            pool,
            """
            def run(inputs, ctx):
                return {"json": getattr(M["json"], "LEAKED", None), "builtins": getattr(M["builtins"], "LEAKED", None),
                        "module": "leak_module" in M["sys"].modules, "environ": os.environ.get("LEAKED"),
                        "global": "LEAK" in globals(), "file": attempt(read, "/tmp/sandbox-leak"),
                        "random": M["random"].random()}
            """,
        )
    )
    assert second["random"] != first["random"]
    del second["random"]
    assert second.pop("file") in ("EACCES", "ENOENT")  # never written; Landlock also hides it if it were
    assert second == {"json": None, "builtins": None, "module": False, "environ": None, "global": False}


def test_concurrent_jobs_cannot_see_each_other(pool: Pool) -> None:
    """Job A holds a secret and waits; job B searches every descriptor and process it can think of."""
    secret = "tenant-a-" + os.urandom(8).hex()
    holder = threading.Thread(
        target=pool.run,
        args=(
            Job(
                code="import time\ndef run(inputs, ctx):\n    time.sleep(1.5)\n    return {}\n",
                inputs={"s": secret},
                idempotency_key="a",
            ),
        ),
    )
    holder.start()
    time.sleep(0.3)
    found = results(
        probe(
            pool,
            """
            def run(inputs, ctx):
                seen = []
                for fd in range(0, 64):
                    try:
                        os.set_blocking(fd, False)
                        seen.append(repr(os.read(fd, 1 << 16)))
                    except OSError:
                        pass
                for pid in range(os.getpid() - 50, os.getpid() + 50):
                    for name in ("environ", "cmdline", "mem"):
                        try:
                            seen.append(repr(read(f"/proc/{pid}/{name}", 1 << 16)))
                        except OSError:
                            pass
                return {"seen": seen}
            """,
        )
    )
    holder.join()
    assert secret not in json.dumps(found)


def _memory_contains(pid: int, needles: list[bytes]) -> set[bytes]:
    """Which of ``needles`` appear anywhere in the readable memory of process ``pid`` (we are root)."""
    found: set[bytes] = set()
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as memory:
        for line in maps:
            addresses, perms = line.split()[:2]
            if "r" not in perms:
                continue
            start, end = (int(a, 16) for a in addresses.split("-"))
            try:
                memory.seek(start)
                chunk = memory.read(end - start)
            except (OSError, ValueError, OverflowError):
                continue
            found.update(needle for needle in needles if needle in chunk)
    return found


def test_the_zygote_never_holds_tenant_code_or_inputs(pool: Pool) -> None:
    """The job goes to the child's own pipe: neither the zygote nor the next spare child (forked from
    it afterwards) has ever had the code, the inputs or the idempotency key in memory."""
    require_environment(os.geteuid() == 0, "reading another process's memory needs root")
    in_code, in_inputs, in_key = ("marker-" + os.urandom(12).hex() for _ in range(3))
    outcome = pool.run(
        Job(
            code=f"def run(inputs, ctx):\n    return {{'m': {in_code!r}}}\n",
            inputs={"m": in_inputs},
            idempotency_key=in_key,
        )
    )
    assert outcome.outputs == {"m": in_code}
    time.sleep(0.2)  # let the next spare child be forked
    needles = [in_code.encode(), in_inputs.encode(), in_key.encode()]
    known = b"_guarded_import"  # a name that is in the zygote's memory: proves the scan reads it
    zygote = pool.zygote_pid
    assert zygote is not None
    assert _memory_contains(zygote, [*needles, known]) == {known}
    children = Path(f"/proc/{zygote}/task/{zygote}/children").read_text().split()
    spares = [pid for pid in children if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"]
    # the children kept ready for the next jobs (the last job's is a zombie until reaped)
    assert len(spares) == pool.spares == 2
    for spare in spares:
        assert _memory_contains(int(spare), [*needles, known]) == {known}


FORGE = """
def run(inputs, ctx):
    import_json = M["json"]
    def frame(kind, payload):
        body = import_json.dumps(payload).encode()
        return M["struct"].pack(">IB", len(body), ord(kind)) + body
    forged = (frame("R", {"outputs": {"forged": True}}) + frame("E", {"code": 109, "message": "forged"})
              + frame("J", {"code": "def run(i, c): return {}", "inputs": {}}) + b"garbage")
    wrote = {}
    for fd in range(0, 10):
        if fd == 4:
            continue  # this job's own channel: forging there only forges its own answer
        wrote[fd] = attempt(os.write, fd, forged)
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.write(forged.decode("latin-1"))
            stream.flush()
        except BaseException:
            pass
    return {"real": True, "wrote": {str(k): v for k, v in wrote.items()}}
"""


def test_forged_frames_reach_nobody(pool: Pool) -> None:
    zygote = pool.zygote_pid
    outcome = probe(pool, FORGE)
    assert outcome.ok, outcome.error
    assert outcome.outputs is not None
    assert outcome.outputs["real"] is True
    assert outcome.outputs["wrote"]["3"] == "EBADF"  # its input pipe is read-only
    for fd in ("5", "6", "7", "8", "9"):
        assert outcome.outputs["wrote"][fd] == "EBADF", fd  # nothing else is open: no control socket, no other job
    # Whatever went to sys.stdout/stderr became this job's own log lines, not frames.
    assert any('"forged"' in line for line in outcome.logs)
    follow_up = pool.run(
        Job(code="def run(inputs, ctx):\n    return {'next': inputs['n']}\n", inputs={"n": 7}, idempotency_key="n")
    )
    assert follow_up.outputs == {"next": 7}
    assert pool.zygote_pid == zygote


def test_frames_forged_on_its_own_channel_cannot_bypass_the_host_checks(pool: Pool) -> None:
    template = """
    def run(inputs, ctx):
        body = M["json"].dumps(PAYLOAD).encode()
        os.write(4, M["struct"].pack(">IB", len(body), ord(KIND)) + body)
        M["time"].sleep(5)
    """
    cases = [
        ("R", {"outputs": {"x": "y" * 5000}}, Code.OUTPUT),  # an oversized result: refused by its header
        ("E", {"code": 109, "message": "forged"}, Code.EXCEPTION),  # host-only codes cannot come from the code
        ("E", {"code": 402, "message": "fine", "extra": "no"}, Code.EXCEPTION),
        ("E", {"code": 402, "message": "wait", "retry_after": 10**9}, Code.EXCEPTION),  # beyond a day
        ("E", {"code": 402, "message": "wait", "retry_after": "5"}, Code.EXCEPTION),
        ("E", {"code": 120, "message": "wait", "retry_after": 5}, Code.EXCEPTION),  # a component's codes only
        ("R", {"outputs": [1, 2]}, Code.EXCEPTION),
        ("J", {"code": ""}, Code.EXCEPTION),  # a host-to-child type
        ("H", {"method": "GET", "url": "x"}, Code.EXCEPTION),  # malformed HTTP request
    ]
    for kind, payload, code in cases:
        body = dedent(template).replace("PAYLOAD", repr(payload)).replace("KIND", repr(kind))
        outcome = probe(pool, body, limits=Limits(output_bytes=1000, wall_seconds=3))
        assert (outcome.error or {}).get("code") == code, (kind, payload, outcome.error)


def test_forged_http_frames_still_count_against_the_limit(pool: Pool) -> None:
    served: list[str] = []

    def serve(request: HttpRequest) -> HttpResponse:
        served.append(request.url)
        return HttpResponse(status=200, headers={}, body=b"")

    outcome = probe(
        pool,
        """
        def run(inputs, ctx):
            body = M["json"].dumps({"method": "GET", "url": "https://example.com/", "headers": {}, "params": None,
                                    "has_json": False, "json": None, "data": None}).encode()
            for _ in range(50):
                os.write(4, M["struct"].pack(">IB", len(body), ord("H")) + body)
            M["time"].sleep(5)
        """,
        limits=Limits(http_calls=5, wall_seconds=3),
        http=serve,
    )
    assert (outcome.error or {}).get("code") == Code.HTTP_CALLS
    assert len(served) == 5


def test_huge_outputs_stop_with_112_without_the_host_reading_them(pool: Pool) -> None:
    started = time.monotonic()
    outcome = probe(
        pool,
        "def run(inputs, ctx):\n    return {'x': 'y' * (50 * 1024 * 1024)}\n",
        limits=Limits(memory_mb=512),
    )
    assert (outcome.error or {}).get("code") == Code.OUTPUT
    assert re.match(r"outputs are \d+ bytes, more than the limit of 1000000", outcome.error["message"])  # type: ignore[index]
    assert time.monotonic() - started < 10


def test_too_many_http_calls_stop_with_114(pool: Pool) -> None:
    outcome = probe(
        pool,
        "def run(inputs, ctx):\n    for _ in range(100):\n        ctx.http('GET', 'https://a.example/')\n",
        limits=Limits(http_calls=20),
        http=lambda request: HttpResponse(status=204, headers={}),
    )
    assert (outcome.error or {}).get("code") == Code.HTTP_CALLS
    assert outcome.error is not None
    assert outcome.error["message"] == "more than 20 HTTP calls"


def test_flooding_the_log_stops_with_113_and_never_hangs(pool: Pool) -> None:
    outcome = probe(
        pool,
        "def run(inputs, ctx):\n    while True:\n        os.write(1, b'x' * 65536)\n        ctx.log('y' * 60000)\n",
        limits=Limits(log_bytes=100_000, wall_seconds=5),
    )
    assert (outcome.error or {}).get("code") == Code.LOGS
    assert sum(len(line) for line in outcome.logs) < 100_000 + 200


def test_a_job_that_closes_its_channel_gets_an_error_not_a_hang(pool: Pool) -> None:
    started = time.monotonic()
    outcome = probe(
        pool, "def run(inputs, ctx):\n    os.close(4)\n    while True:\n        pass\n", limits=Limits(wall_seconds=5)
    )
    assert (outcome.error or {}).get("code") == Code.EXCEPTION
    assert time.monotonic() - started < 3


def test_exiting_early_is_an_error(pool: Pool) -> None:
    outcome = probe(pool, "def run(inputs, ctx):\n    os._exit(0)\n")
    assert (outcome.error or {}).get("code") == Code.EXCEPTION
    outcome = probe(pool, "def run(inputs, ctx):\n    raise SystemExit(3)\n")
    assert (outcome.error or {}).get("code") == Code.EXCEPTION


def test_the_errno_names_in_this_file_are_real() -> None:
    for name in ("EACCES", "EPERM", "EAGAIN", "EBADF", "ENOSYS"):
        assert hasattr(errno, name)
