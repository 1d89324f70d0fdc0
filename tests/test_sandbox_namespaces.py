"""bubblewrap's namespaces around the sandbox zygote (``SANDBOX_BWRAP``, docs/sandbox.md).

Landlock refuses to *open* what a job must not read, but a path lookup still tells whether a file
exists, with its size, mode and times. In a bwrap pool the project is not in the job's mount
namespace at all, the host's processes are not in its pid namespace and it has no network
interface but its own loopback. Each probe also runs in a pool without bwrap, where it succeeds, so
the assertions would fail if the namespaces were missing. Real processes, no database.

In CI (``CI`` or ``SYNCHRONISE_REQUIRE_SERVICES`` set) a missing bwrap fails these tests instead of
skipping them; ``make test`` installs it (``make bubblewrap``).
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from components.sandbox import Code, Job, Limits, Pool
from tests.test_sandbox_escape import probe, require_environment, results

PROJECT = Path(settings.BASE_DIR)
NAMESPACES = {"mnt", "pid", "net", "ipc", "uts"}


def require_bwrap() -> None:
    require_environment(shutil.which("bwrap") is not None, "bwrap is not installed (make bubblewrap)")


@pytest.fixture(scope="module")
def pools() -> Iterator[dict[str, Pool]]:
    require_bwrap()
    pools = {
        "bwrap": Pool(bwrap="required"),
        "off": Pool(bwrap="off"),
        # Landlock and seccomp off, so that what is left to stop a probe is the namespaces alone.
        "only bwrap": Pool(bwrap="required", allow_unsafe=True, _testing_disable=("landlock", "seccomp")),
        "nothing": Pool(bwrap="off", allow_unsafe=True, _testing_disable=("landlock", "seccomp")),
    }
    for pool in pools.values():
        pool.start()
    yield pools
    for pool in pools.values():
        pool.close()


@pytest.fixture(scope="module")
def canary() -> Iterator[str]:
    """A world-readable file in a world-searchable directory: only the mount namespace hides it."""
    directory = Path(tempfile.mkdtemp(prefix="sandbox-canary-"))
    directory.chmod(0o755)
    path = directory / "canary.txt"
    path.write_text("canary")
    path.chmod(0o644)
    yield str(path)
    shutil.rmtree(directory, ignore_errors=True)


STAT = """
def run(inputs, ctx):
    return {path: attempt(lambda p: M["stat"].filemode(os.stat(p).st_mode), path) for path in inputs["paths"]}
"""


def test_the_pool_reports_its_namespaces(pools: dict[str, Pool]) -> None:
    assert set(pools["bwrap"].layers["namespaces"]) >= NAMESPACES
    assert pools["off"].layers["namespaces"] == []
    default = Pool()  # "auto" is the default: bwrap is used where it is installed
    try:
        default.start()
        assert set(default.layers["namespaces"]) >= NAMESPACES
    finally:
        default.close()


def test_a_job_cannot_even_stat_project_files(pools: dict[str, Pool], canary: str) -> None:
    paths = {
        "settings": str(PROJECT / "synchronise" / "settings.py"),
        "project": str(PROJECT),
        "data": str(settings.DATA_DIR),
        "canary": canary,
        "passwd": "/etc/passwd",
        "home": "/home",
        "var": "/var",
        "host process": f"/proc/{os.getpid()}",
    }
    found = results(probe(pools["bwrap"], STAT, {"paths": list(paths.values())}))
    assert found == dict.fromkeys(paths.values(), "ENOENT"), found
    # Without the namespaces each of these is there to look at (Landlock only refuses opening them).
    seen = results(probe(pools["off"], STAT, {"paths": list(paths.values())}))
    assert seen[paths["settings"]].startswith("ok: '-rw"), seen
    assert seen[paths["canary"]] == "ok: '-rw-r--r--'"
    assert all(value.startswith("ok") for value in seen.values()), seen


LOOK_AROUND = """
def run(inputs, ctx):
    return {
        "/": os.listdir("/"),
        "/etc": os.listdir("/etc"),
        "pids": sorted(int(name) for name in os.listdir("/proc") if name.isdigit()),
        "me": os.getpid(),
        "/work": attempt(os.listdir, "/work"),
        "passwd listed": attempt(lambda: "passwd" in os.listdir("/etc")),
        "host listed": attempt(lambda: str(inputs["host"]) in os.listdir("/proc")),
        "canary": attempt(read, inputs["canary"]),
        "hostname": os.uname().nodename,
        "interfaces": attempt(lambda: [name for _, name in socket.if_nameindex()]),
    }
"""


def test_the_namespaces_alone_show_only_what_was_mounted(pools: dict[str, Pool], canary: str) -> None:
    found = results(probe(pools["only bwrap"], LOOK_AROUND, {"canary": canary, "host": os.getpid()}))
    interpreter = Path(os.path.realpath(sys.base_prefix)).parts[1]  # /root/.pyenv/… here, /usr on Debian's
    mounted = {"bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "sandbox", "sbin", "usr", interpreter}
    assert {"dev", "etc", "proc", "sandbox", "usr"} <= set(found["/"]) <= mounted
    assert set(found["/etc"]) <= {"ld.so.cache", "localtime"}
    # bwrap's init, the zygote, this job and perhaps a finished job not reaped yet: no host process.
    assert found["pids"][:2] == [1, 2]
    assert found["me"] in found["pids"]
    assert len(found["pids"]) <= 4
    assert found["/work"] == found["canary"] == "ENOENT"
    assert found["hostname"] == "sandbox"
    assert found["interfaces"] == "ok: ['lo']"
    # The same job without the namespaces looks at the whole machine.
    seen = results(probe(pools["nothing"], LOOK_AROUND, {"canary": canary, "host": os.getpid()}))
    assert "home" in seen["/"]
    assert seen["passwd listed"] == seen["host listed"] == "ok: True"
    assert seen["canary"] == "ok: b'canary'"
    assert seen["hostname"] == os.uname().nodename


CONNECT = """
def run(inputs, ctx):
    def connect():
        with socket.create_connection(("127.0.0.1", inputs["port"]), timeout=2):
            return "connected"
    return {"connect": attempt(connect)}
"""


def test_the_network_namespace_alone_keeps_a_job_off_the_hosts_loopback(pools: dict[str, Pool]) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    try:
        port = server.getsockname()[1]
        assert results(probe(pools["only bwrap"], CONNECT, {"port": port})) == {"connect": "ECONNREFUSED"}
        assert results(probe(pools["nothing"], CONNECT, {"port": port})) == {"connect": "ok: 'connected'"}
    finally:
        server.close()


def test_the_host_signals_jobs_in_the_pid_namespace_through_pidfds(pools: dict[str, Pool]) -> None:
    pool = pools["bwrap"]
    zygote = pool.zygote_pid
    assert zygote is not None
    assert os.readlink(f"/proc/{zygote}/ns/pid") != os.readlink("/proc/self/ns/pid")  # the zygote, not bwrap
    outcome = pool.run(
        Job(code="import time\ndef run(inputs, ctx):\n    time.sleep(30)\n", inputs={}, idempotency_key="w"),
        limits=Limits(wall_seconds=0.5),
    )
    assert (outcome.error or {}).get("code") == Code.WALL_TIME
    assert pool.zygote_pid == zygote
    # The numbers the zygote reports are its namespace's: it is pid 2 there (after bwrap's init).
    assert results(probe(pool, "def run(inputs, ctx):\n    return {'parent': os.getppid()}\n")) == {"parent": 2}


def test_required_without_bwrap_refuses_every_run_with_123(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    pool = Pool(bwrap="required")
    try:
        outcome = pool.run(Job(code="def run(inputs, ctx):\n    return {}\n", inputs={}, idempotency_key="r"))
    finally:
        pool.close()
    assert outcome.error is not None
    assert outcome.error["code"] == Code.UNAVAILABLE
    assert outcome.error["message"] == (
        "bubblewrap is required (SANDBOX_BWRAP=required) but cannot be used: bwrap is not on PATH"
    )


def test_auto_without_bwrap_warns_once_and_runs_as_before(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    pool = Pool(bwrap="auto")
    try:
        with caplog.at_level(logging.WARNING, logger="components.sandbox.pool"):
            for n in range(2):
                outcome = pool.run(
                    Job(code=f"def run(inputs, ctx):\n    return {{'n': {n}}}\n", inputs={}, idempotency_key="a")
                )
                assert outcome.outputs == {"n": n}
                pool.close()  # the next run starts a new zygote: it must not warn again
    finally:
        pool.close()
    assert pool.layers["namespaces"] == []
    assert pool.layers["landlock"]["filesystem"]
    assert pool.layers["seccomp"]
    warnings = [r.getMessage() for r in caplog.records if "bubblewrap" in r.getMessage()]
    assert warnings == ["the sandbox runs without bubblewrap namespaces (SANDBOX_BWRAP=auto): bwrap is not on PATH"]


def test_auto_falls_back_when_bwrap_cannot_start_the_zygote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    broken = tmp_path / "bwrap"  # what a container that forbids namespaces amounts to
    broken.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    broken.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    pool = Pool(bwrap="auto")
    try:
        with caplog.at_level(logging.WARNING, logger="components.sandbox.pool"):
            outcome = pool.run(
                Job(code="def run(inputs, ctx):\n    return {'ok': 1}\n", inputs={}, idempotency_key="b")
            )
    finally:
        pool.close()
    assert outcome.outputs == {"ok": 1}
    assert pool.layers["namespaces"] == []
    assert any("No permissions to create new namespace" in r.getMessage() for r in caplog.records)
    required = Pool(bwrap="required")
    try:
        outcome = required.run(Job(code="def run(inputs, ctx):\n    return {}\n", inputs={}, idempotency_key="c"))
    finally:
        required.close()
    assert (outcome.error or {}).get("code") == Code.UNAVAILABLE
    assert "No permissions to create new namespace" in (outcome.error or {}).get("message", "")


def test_the_setting_chooses_the_mode(settings) -> None:  # type: ignore[no-untyped-def]
    for value, mode in (("auto", "auto"), ("0", "off"), ("off", "off"), ("1", "required"), ("required", "required")):
        settings.SANDBOX_BWRAP = value
        assert Pool.from_settings().bwrap == mode
    with pytest.raises(ValueError, match="bwrap must be one of"):
        Pool(bwrap="sometimes")
